using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Models;

/// <summary>
/// Bounds a model config must keep, checked layer by layer before anything is allocated: a config
/// comes from files (a model's metadata, a sweep), and one typo — or a hostile file — must be
/// refused with a message, not exhaust memory. The bounds are far above any network that trains
/// on MNIST here (the classic one has 0.42 M parameters).
/// </summary>
public static class ModelLimits
{
    /// <summary>Weights and biases in all layers together: 64 M (256 MB of floats).</summary>
    public const long MaxParameters = 64L << 20;

    /// <summary>Values every layer's output holds for one sample, all layers together: 64 M.</summary>
    public const long MaxActivations = 64L << 20;

    /// <summary>The largest channel count, feature count, kernel, stride, padding or pool size.</summary>
    public const int MaxDimension = 1 << 16;

    /// <summary>Checks the input shape.</summary>
    public static void CheckInput(int[] shape)
    {
        if (Array.Exists(shape, d => d > MaxDimension) || Count(shape) > MaxActivations)
            throw new MnistException($"input shape {Tensor.ShapeText(shape)} is too large (at most {MaxDimension} a side, {MaxActivations} values)");
    }

    /// <summary>
    /// Checks a layer's settings and the parameters it would add to <paramref name="parameters"/>,
    /// before it is built. What a spec's settings are and what its layer holds is its kind's to say
    /// (<see cref="LayerKind.CheckedParameters"/>); the bounds are here.
    /// </summary>
    public static void CheckLayer(LayerKind kind, LayerSpec spec, int[] inputShape, ref long parameters)
    {
        parameters += kind.CheckedParameters(spec, inputShape);
        if (parameters > MaxParameters)
            throw new MnistException($"the model would have over {MaxParameters} parameters; at most {MaxParameters} are allowed");
    }

    /// <summary>Refuses a layer setting (channels, features, kernel, stride, padding, pool size) above <see cref="MaxDimension"/>.</summary>
    internal static void CheckSettings(params int[] settings)
    {
        foreach (int setting in settings)
            if (setting > MaxDimension)
                throw new MnistException($"{setting} is too large for a layer setting (at most {MaxDimension})");
    }

    /// <summary>The largest magnitude of an activation's slope or alpha: beyond it outputs overflow.</summary>
    public const float MaxFactor = 1000f;

    /// <summary>Refuses an activation's slope or alpha beyond ±<see cref="MaxFactor"/> (or not a number).</summary>
    internal static void CheckFactor(float? factor, string name)
    {
        if (factor is float f && !(Math.Abs(f) <= MaxFactor))
            throw new MnistException($"{name} {f} is outside ±{MaxFactor}");
    }

    /// <summary>The channels of a [C, H, W] input (1 for any other shape).</summary>
    internal static long Channels(int[] shape) => shape.Length > 0 ? shape[0] : 1;

    /// <summary>Checks a layer's output and adds it to the running total of <paramref name="activations"/>.</summary>
    public static void CheckOutput(int[] outputShape, ref long activations)
    {
        activations += Count(outputShape);
        if (activations > MaxActivations)
            throw new MnistException($"the layers' outputs would hold over {MaxActivations} values per sample; at most {MaxActivations} are allowed");
    }

    /// <summary>The number of values in a shape, as a long (a shape here may be too large for an int).</summary>
    internal static long Count(int[] shape) => Product(Array.ConvertAll(shape, d => (long)d));

    /// <summary>
    /// The product of sizes, held at 2⁶⁰ instead of wrapping round: a hostile config's sizes can
    /// overflow a long, and 2⁶⁰ is past every bound with room to add a few more counts to it.
    /// </summary>
    internal static long Product(params long[] sizes)
    {
        const long ceiling = 1L << 60;
        long n = 1;
        foreach (long d in sizes) n = d <= 0 ? 0 : n > ceiling / d ? ceiling : n * d;
        return n;
    }
}
