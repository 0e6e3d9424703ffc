using ILGPU;
using ILGPU.Runtime;

namespace Mnist.Gpu.Kernels;

/// <summary>What a batch-norm launch works on: x as [batch, channels, plane].</summary>
internal readonly record struct NormShape(int Batch, int Channels, int Plane)
{
    public int Count => Batch * Plane;

    /// <summary>Element <paramref name="e"/> (0..Count) of channel <paramref name="c"/>.</summary>
    public int At(int c, int e) => (e / Plane * Channels + c) * Plane + e % Plane;
}

/// <summary>
/// Batch normalisation: one group per channel for the statistics and the backward pass (float64
/// partial sums folded in a fixed tree, <see cref="Reduce"/>), one thread per element for applying it.
/// </summary>
internal static class NormKernels
{
    public static void Statistics(NormShape s, float momentum, float epsilon, ArrayView<float> x, ArrayView<float> runningMean,
        ArrayView<float> runningVar, ArrayView<float> mean, ArrayView<float> invStd)
    {
        int c = Grid.IdxX, t = Group.IdxX;
        double sum = 0;
        for (int e = t; e < s.Count; e += Group.DimX) sum += x[s.At(c, e)];
        double mu = Reduce.Sum(sum) / s.Count, sq = 0;
        for (int e = t; e < s.Count; e += Group.DimX)
        {
            double d = x[s.At(c, e)] - mu;
            sq += d * d;
        }
        double variance = Reduce.Sum(sq) / s.Count;
        if (t != 0) return;
        float m = (float)mu;
        mean[c] = m;
        invStd[c] = (float)(1.0 / Math.Sqrt(variance + epsilon));
        runningMean[c] = (1f - momentum) * runningMean[c] + momentum * m;
        runningVar[c] = (1f - momentum) * runningVar[c] + momentum * (float)(variance * s.Count / (s.Count - 1));
    }

    public static void InverseStd(Index1D c, float epsilon, ArrayView<float> variance, ArrayView<float> invStd) =>
        invStd[c] = 1f / MathF.Sqrt(variance[c] + epsilon);

    public static void Apply(Index1D i, NormShape s, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> invStd,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> xhat, ArrayView<float> y)
    {
        int c = i / s.Plane % s.Channels;
        float h = (x[i] - mean[c]) * invStd[c];
        xhat[i] = h;
        y[i] = gamma[c] * h + beta[c];
    }

    /// <summary>dβ, dγ and, when <paramref name="inputGradient"/> is set, dx (see Backend.BatchNormBackward).</summary>
    public static void Backward(NormShape s, int training, int inputGradient, ArrayView<float> dy, ArrayView<float> xhat,
        ArrayView<float> gamma, ArrayView<float> invStd, ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float> dx)
    {
        int c = Grid.IdxX, t = Group.IdxX;
        double sumDy = 0, sumDyXhat = 0;
        for (int e = t; e < s.Count; e += Group.DimX)
        {
            int i = s.At(c, e);
            sumDy += dy[i];
            sumDyXhat += dy[i] * xhat[i];
        }
        sumDy = Reduce.Sum(sumDy);
        sumDyXhat = Reduce.Sum(sumDyXhat);
        if (t == 0)
        {
            dBeta[c] = (float)sumDy;
            dGamma[c] = (float)sumDyXhat;
        }
        if (inputGradient == 0) return;
        float scale = gamma[c] * invStd[c];
        float meanDy = training != 0 ? (float)(sumDy / s.Count) : 0f;
        float meanDyXhat = training != 0 ? (float)(sumDyXhat / s.Count) : 0f;
        for (int e = t; e < s.Count; e += Group.DimX)
        {
            int i = s.At(c, e);
            dx[i] = scale * (dy[i] - meanDy - xhat[i] * meanDyXhat);
        }
    }
}
