namespace Mnist.Core.Kernels;

/// <summary>Element-wise and reduction kernels that the layers share.</summary>
public static class Elementwise
{
    /// <summary>y = max(x, 0).</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y) => ElementwiseReference.Relu(x, y);

    /// <summary>dx = dy where x &gt; 0, else 0.</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
        => ElementwiseReference.ReluBackward(x, dy, dx);

    /// <summary>Adds bias[j] to every row of a rows×bias.Length matrix (dense layers).</summary>
    public static void AddRowBias(Span<float> matrix, int rows, ReadOnlySpan<float> bias)
        => ElementwiseReference.AddRowBias(matrix, rows, bias);

    /// <summary>Adds bias[c] to each plane of a batch×channels×plane tensor (conv layers).</summary>
    public static void AddChannelBias(Span<float> x, int batch, int plane, ReadOnlySpan<float> bias)
        => ElementwiseReference.AddChannelBias(x, batch, plane, bias);

    /// <summary>sums[j] = Σ_rows matrix[row, j] (dense bias gradient).</summary>
    public static void SumRows(ReadOnlySpan<float> matrix, int rows, Span<float> sums)
        => ElementwiseReference.SumRows(matrix, rows, sums);

    /// <summary>sums[c] = Σ over batch and plane of x[n, c, :] (conv bias gradient).</summary>
    public static void SumChannels(ReadOnlySpan<float> x, int batch, int plane, Span<float> sums)
        => ElementwiseReference.SumChannels(x, batch, plane, sums);

    /// <summary>y += a·x.</summary>
    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y) => ElementwiseReference.Axpy(a, x, y);

    /// <summary>x *= a.</summary>
    public static void Scale(Span<float> x, float a) => ElementwiseReference.Scale(x, a);
}
