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

    /// <summary>Checks a layer's settings and the parameters it would add to <paramref name="parameters"/>, before it is built.</summary>
    public static void CheckLayer(LayerSpec spec, int[] inputShape, ref long parameters)
    {
        long inputs = Count(inputShape);
        long channels = inputShape.Length > 0 ? inputShape[0] : 1;
        var (sizes, added) = spec switch
        {
            Conv2DSpec c => ((int[])[c.Out, c.Kernel, c.Stride, c.Pad], (long)c.Out * channels * c.Kernel * c.Kernel + c.Out),
            MaxPoolSpec p => ([p.Size, p.Stride ?? 1], 0L),
            AvgPoolSpec p => ([p.Size, p.Stride ?? 1], 0L),
            DenseSpec d => ([d.Out], (long)d.Out * inputs + d.Out),
            ResidualSpec r => ([r.Out, r.Stride], 9L * r.Out * (channels + r.Out) + r.Out * channels + 8L * r.Out),
            BatchNormSpec => ([], 4 * channels),
            _ => ((int[])[], 0L),
        };
        foreach (int size in sizes)
            if (size > MaxDimension)
                throw new MnistException($"{size} is too large for a layer setting (at most {MaxDimension})");
        CheckFactors(spec);
        parameters += added;
        if (parameters > MaxParameters)
            throw new MnistException($"the model would have over {MaxParameters} parameters; at most {MaxParameters} are allowed");
    }

    /// <summary>The largest magnitude of an activation's slope or alpha: beyond it outputs overflow.</summary>
    public const float MaxFactor = 1000f;

    /// <summary>Batch norm's epsilon must be positive (the variance is divided by its root) and the activations' factors moderate.</summary>
    private static void CheckFactors(LayerSpec spec)
    {
        static void Moderate(float? factor, string name)
        {
            if (factor is float f && !(Math.Abs(f) <= MaxFactor))
                throw new MnistException($"{name} {f} is outside ±{MaxFactor}");
        }
        switch (spec)
        {
            case BatchNormSpec b when !(b.Epsilon > 0f && float.IsFinite(b.Epsilon)):
                throw new MnistException($"batchnorm epsilon must be a positive number (got {b.Epsilon})");
            case ActivationSpec a:
                Moderate(a.Slope, "slope");
                Moderate(a.Alpha, "alpha");
                break;
            case ResidualSpec r:
                Moderate(r.Slope, "slope");
                Moderate(r.Alpha, "alpha");
                break;
        }
    }

    /// <summary>Checks a layer's output and adds it to the running total of <paramref name="activations"/>.</summary>
    public static void CheckOutput(int[] outputShape, ref long activations)
    {
        activations += Count(outputShape);
        if (activations > MaxActivations)
            throw new MnistException($"the layers' outputs would hold over {MaxActivations} values per sample; at most {MaxActivations} are allowed");
    }

    /// <summary>The number of values in a shape, as a long (a shape here may be too large for an int).</summary>
    private static long Count(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n = d <= 0 ? 0 : n > long.MaxValue / d ? long.MaxValue : n * d;
        return n;
    }
}
