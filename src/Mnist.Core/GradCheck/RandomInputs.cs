using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>
/// Seeded inputs and parameters for gradient checks and layer tests: the same seed gives the
/// same values on every machine, so a failing check can be rerun as it was. Inputs are CPU
/// tensors (Tensor.To moves them); parameters are set on whatever backend they live.
/// </summary>
public static class RandomInputs
{
    /// <summary>
    /// Standard normal values, redrawn while |x| &lt; <paramref name="margin"/> so ReLU-like kinks
    /// stay out of reach of the checker's perturbation.
    /// </summary>
    public static Tensor Gaussian(ulong seed, float margin, params int[] shape)
    {
        var rng = new Rng(seed);
        var t = new Tensor(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            float v = rng.NextGaussian();
            while (Math.Abs(v) < margin) v = rng.NextGaussian();
            s[i] = v;
        }
        return t;
    }

    /// <summary>Values drawn uniformly from [<paramref name="lo"/>, <paramref name="hi"/>).</summary>
    public static Tensor Uniform(ulong seed, float lo, float hi, params int[] shape)
    {
        var rng = new Rng(seed);
        var t = new Tensor(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = lo + (hi - lo) * rng.NextFloat();
        return t;
    }

    /// <summary>
    /// A shuffled ramp with steps of <paramref name="gap"/>: no two values are close, so max
    /// pooling has no near-ties.
    /// </summary>
    public static Tensor ShuffledRamp(ulong seed, float gap, params int[] shape)
    {
        var t = new Tensor(shape);
        var order = new int[t.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        new Rng(seed).Shuffle(order);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (order[i] - t.Length / 2.0f) * gap;
        return t;
    }

    /// <summary>Gives every parameter random values (weights, biases, batch-norm scales alike).</summary>
    public static T RandomizeParameters<T>(T layer, ulong seed, float scale) where T : Layer
    {
        var rng = new Rng(seed);
        foreach (var p in layer.Parameters)
        {
            var s = new float[p.Value.Length];
            for (int i = 0; i < s.Length; i++) s[i] = scale * rng.NextGaussian();
            p.Value.CopyFromHost(s);
        }
        return layer;
    }
}
