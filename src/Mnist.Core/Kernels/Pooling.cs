namespace Mnist.Core.Kernels;

/// <summary>
/// Max and average pooling over a batch of NCHW images. Max pooling records, for each output, the
/// flat input index (within the batch) of the winning element so backward is a scatter.
/// </summary>
public static class Pooling
{
    public static void MaxForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y, Span<int> argmax)
        => PoolingReference.MaxForward(g, batch, x, y, argmax);

    /// <summary>Writes dx (zeroing it first) from dy and the recorded argmax.</summary>
    public static void MaxBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, Span<float> dx)
        => PoolingReference.MaxBackward(g, batch, dy, argmax, dx);

    public static void AvgForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y)
        => PoolingReference.AvgForward(g, batch, x, y);

    /// <summary>Writes dx (zeroing it first) from dy.</summary>
    public static void AvgBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, Span<float> dx)
        => PoolingReference.AvgBackward(g, batch, dy, dx);
}
