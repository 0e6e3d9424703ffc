namespace Mnist.Core.Kernels;

/// <summary>The scalar loops that <see cref="Elementwise"/> is tested against.</summary>
public static class ElementwiseReference
{
    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : 0f;
    }

    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : 0f;
    }

    public static void AddRowBias(Span<float> matrix, int rows, ReadOnlySpan<float> bias)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < bias.Length; j++) matrix[r * bias.Length + j] += bias[j];
    }

    public static void SumRows(ReadOnlySpan<float> matrix, int rows, Span<float> sums)
    {
        sums.Clear();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < sums.Length; j++) sums[j] += matrix[r * sums.Length + j];
    }

    public static void SumChannels(ReadOnlySpan<float> x, int batch, int plane, Span<float> sums)
    {
        int channels = sums.Length;
        sums.Clear();
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++)
                for (int i = 0; i < plane; i++) sums[c] += x[(n * channels + c) * plane + i];
    }

    public static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] += a * x[i];
    }

    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i];
    }

    public static void Scale(Span<float> x, float a)
    {
        for (int i = 0; i < x.Length; i++) x[i] *= a;
    }
}
