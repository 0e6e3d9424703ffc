namespace Mnist.Core.Kernels;

/// <summary>
/// im2col: unfolds one C×H×W image into a (C·KH·KW)×(OH·OW) matrix so a convolution becomes a GEMM;
/// col2im folds such a matrix back, adding overlapping contributions. Each output row segment is
/// split once into a zero (padding) part and an inside part, which stride 1 copies or adds as a
/// block, so no per-element bounds test remains in the inner loop.
/// </summary>
public static class Im2Col
{
    public static unsafe void Unfold(in ConvGeometry g, ReadOnlySpan<float> image, Span<float> cols)
    {
        if (image.Length < g.ImageSize || cols.Length < g.ColRows * g.ColCols)
            throw new ArgumentException($"im2col needs {g.ImageSize} image and {g.ColRows * g.ColCols} column floats");
        fixed (float* src = image, dst = cols) Unfold(g, src, dst);
    }

    /// <summary>Adds the column matrix back into <paramref name="image"/> (which the caller zeroes).</summary>
    public static unsafe void Fold(in ConvGeometry g, ReadOnlySpan<float> cols, Span<float> image)
    {
        if (image.Length < g.ImageSize || cols.Length < g.ColRows * g.ColCols)
            throw new ArgumentException($"col2im needs {g.ImageSize} image and {g.ColRows * g.ColCols} column floats");
        fixed (float* src = cols, dst = image) Fold(g, src, dst);
    }

    internal static unsafe void Unfold(in ConvGeometry g, float* image, float* cols)
    {
        int oh = g.OutH, ow = g.OutW, s = g.Stride;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    float* dst = cols + (long)((c * g.KernelH + ky) * g.KernelW + kx) * oh * ow;
                    var (lo, hi) = InsideColumns(g, kx);
                    int x0 = lo * s - g.Pad + kx;
                    for (int oy = 0; oy < oh; oy++, dst += ow)
                    {
                        int iy = oy * s - g.Pad + ky;
                        if (iy < 0 || iy >= g.Height)
                        {
                            new Span<float>(dst, ow).Clear();
                            continue;
                        }
                        float* src = image + ((long)c * g.Height + iy) * g.Width + x0;
                        for (int ox = 0; ox < lo; ox++) dst[ox] = 0f;
                        if (s == 1) new ReadOnlySpan<float>(src, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                        else for (int ox = lo; ox < hi; ox++, src += s) dst[ox] = *src;
                        for (int ox = hi; ox < ow; ox++) dst[ox] = 0f;
                    }
                }
    }

    internal static unsafe void Fold(in ConvGeometry g, float* cols, float* image)
    {
        int oh = g.OutH, ow = g.OutW, s = g.Stride;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    float* src = cols + (long)((c * g.KernelH + ky) * g.KernelW + kx) * oh * ow;
                    var (lo, hi) = InsideColumns(g, kx);
                    if (hi <= lo) continue;
                    int x0 = lo * s - g.Pad + kx;
                    for (int oy = 0; oy < oh; oy++, src += ow)
                    {
                        int iy = oy * s - g.Pad + ky;
                        if (iy < 0 || iy >= g.Height) continue;
                        float* dst = image + ((long)c * g.Height + iy) * g.Width + x0;
                        if (s == 1) Elementwise.AddInPlace(new Span<float>(dst, hi - lo), new ReadOnlySpan<float>(src + lo, hi - lo));
                        else for (int ox = lo; ox < hi; ox++, dst += s) *dst += src[ox];
                    }
                }
    }

    /// <summary>The output columns [lo, hi) whose input column ox·s − pad + kx falls inside the image.</summary>
    private static (int Lo, int Hi) InsideColumns(in ConvGeometry g, int kx)
    {
        int s = g.Stride, ow = g.OutW;
        int lo = g.Pad - kx <= 0 ? 0 : (g.Pad - kx + s - 1) / s;
        // Largest ox with ox·s − pad + kx ≤ W − 1.
        int last = g.Width - 1 + g.Pad - kx;
        int hi = last < 0 ? 0 : last / s + 1;
        lo = Math.Min(lo, ow);
        hi = Math.Clamp(hi, lo, ow);
        return (lo, hi);
    }
}
