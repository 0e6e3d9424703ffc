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

    internal static unsafe void Unfold(in ConvGeometry g, float* image, float* cols) => Unfold(g, image, cols, 0, g.ColRows);

    /// <summary>Rows [r0, r1) of the column matrix, row r written at cols + (r − r0)·OH·OW.</summary>
    internal static unsafe void Unfold(in ConvGeometry g, float* image, float* cols, int r0, int r1)
    {
        var plan = StridedPlan(g);
        for (int r = r0; r < r1; r++) UnfoldRow(g, plan, image, r, cols + (long)(r - r0) * g.ColCols);
    }

    /// <summary>Floats <see cref="UnfoldPacked"/> needs at its scratch: the packed matrix and one row.</summary>
    internal static int PackedSize(in ConvGeometry g) => GemmDriver.PackedBSize(g.ColRows, g.ColCols) + g.ColCols;

    /// <summary>
    /// The whole column matrix straight into the GEMM's packed-B layout (<see cref="GemmProblem.PackedB"/>),
    /// at the start of <paramref name="scratch"/> (<see cref="PackedSize"/> floats): each row is unfolded
    /// into the scratch's last row, still in L1, and dealt out in panel-wide pieces, so the GEMM packs
    /// nothing and the plain matrix is never written.
    /// </summary>
    internal static unsafe void UnfoldPacked(in ConvGeometry g, float* image, float* scratch)
    {
        int rows = g.ColRows, plane = g.ColCols;
        float* row = scratch + GemmDriver.PackedBSize(rows, plane);
        var plan = StridedPlan(g);
        for (int r = 0; r < rows; r++)
        {
            UnfoldRow(g, plan, image, r, row);
            GemmDriver.PackBRow(row, rows, plane, r, scratch);
        }
    }

    /// <summary>Floats <see cref="UnfoldPackedTransposed"/> needs at its scratch: the packed matrix and a panel of rows.</summary>
    internal static int PackedTransposedSize(in ConvGeometry g) =>
        GemmDriver.PackedBSize(g.ColCols, g.ColRows) + GemmDriver.NR * g.ColCols;

    /// <summary>
    /// The transposed column matrix (OH·OW × C·KH·KW, the B of dW = dy·colsᵀ) straight into the GEMM's
    /// packed-B layout at the start of <paramref name="scratch"/> (<see cref="PackedTransposedSize"/>
    /// floats): a panel's worth of rows is unfolded into the scratch's end and transposed into place.
    /// </summary>
    internal static unsafe void UnfoldPackedTransposed(in ConvGeometry g, float* image, float* scratch)
    {
        int rows = g.ColRows, plane = g.ColCols, nr = GemmDriver.NR;
        float* block = scratch + GemmDriver.PackedBSize(plane, rows);
        for (int r0 = 0; r0 < rows; r0 += nr)
        {
            int count = Math.Min(nr, rows - r0);
            Unfold(g, image, block, r0, r0 + count);
            GemmDriver.PackTransposedB(block, plane, plane, rows, r0, count, scratch);
        }
    }

    /// <summary>The AVX-512 row plan for layers whose rows are not shifted planes; null where the scalar loops run.</summary>
    private static StridedRows.RowPlan? StridedPlan(in ConvGeometry g) =>
        !IsShiftedPlane(g) && StridedRows.Supported(g.Stride) ? StridedRows.RowPlan.For(g) : null;

    /// <summary>Row r = (c, ky, kx) of the column matrix into dst (OH·OW floats), through the plan when there is one.</summary>
    private static unsafe void UnfoldRow(in ConvGeometry g, StridedRows.RowPlan? plan, float* image, int r, float* dst)
    {
        if (plan != null)
        {
            StridedRows.Unfold(plan, image, r, dst);
            return;
        }
        int taps = g.KernelH * g.KernelW, c = r / taps, ky = r % taps / g.KernelW, kx = r % g.KernelW;
        float* channel = image + (long)c * g.Height * g.Width;
        if (IsShiftedPlane(g)) UnfoldShiftedRow(g, channel, ky, kx, dst);
        else UnfoldStridedRow(g, channel, ky, kx, dst);
    }

    /// <summary>
    /// Stride 1 and output width = input width ("same" padding along x): a column-matrix row is the
    /// channel plane shifted by one offset, so it is one block copy; the positions that wrapped around
    /// a row edge, and the rows that fell outside, are then set to zero.
    /// </summary>
    private static unsafe void UnfoldShiftedRow(in ConvGeometry g, float* channel, int ky, int kx, float* dst)
    {
        int w = g.Width, plane = g.OutH * w;
        var (y0, y1) = InsideRows(g, ky);
        var (lo, hi) = InsideColumns(g, kx);
        if (y1 <= y0 || hi <= lo)
        {
            new Span<float>(dst, plane).Clear();
            return;
        }
        int first = y0 * w + lo, last = (y1 - 1) * w + hi;
        float* src = channel + (long)(y0 - g.Pad + ky) * w + lo - g.Pad + kx;
        new Span<float>(dst, first).Clear();
        new ReadOnlySpan<float>(src, last - first).CopyTo(new Span<float>(dst + first, last - first));
        new Span<float>(dst + last, plane - last).Clear();
        ZeroWrapped(dst, w, y0, y1, lo, hi);
    }

    /// <summary>Zeroes columns outside [lo, hi) in rows [y0, y1) of a row-major block of width w.</summary>
    private static unsafe void ZeroWrapped(float* block, int w, int y0, int y1, int lo, int hi)
    {
        if (lo == 0 && hi == w) return;
        for (int y = y0; y < y1; y++)
        {
            float* row = block + (long)y * w;
            for (int x = 0; x < lo; x++) row[x] = 0f;
            for (int x = hi; x < w; x++) row[x] = 0f;
        }
    }

    /// <summary>Any stride and padding: row by row, zeros outside, a copy (stride 1) or a strided gather inside.</summary>
    private static unsafe void UnfoldStridedRow(in ConvGeometry g, float* channel, int ky, int kx, float* dst)
    {
        int oh = g.OutH, ow = g.OutW, s = g.Stride;
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
            float* src = channel + (long)iy * g.Width + x0;
            for (int ox = 0; ox < lo; ox++) dst[ox] = 0f;
            if (s == 1) new ReadOnlySpan<float>(src, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
            else for (int ox = lo; ox < hi; ox++, src += s) dst[ox] = *src;
            for (int ox = hi; ox < ow; ox++) dst[ox] = 0f;
        }
    }

    internal static unsafe void Fold(in ConvGeometry g, float* cols, float* image)
    {
        int oh = g.OutH, ow = g.OutW, s = g.Stride;
        if (StridedPlan(g) is { } plan)
        {
            // The plan knows each row's inside columns and rows: no per-row division or test here.
            for (int r = 0; r < g.ColRows; r++) StridedRows.Fold(plan, cols + (long)r * oh * ow, r, image);
            return;
        }
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

    /// <summary>
    /// Fold for the convolution's own scratch columns, which it may overwrite: with stride 1 and
    /// output width = input width, the entries that map to padding are zeroed in place and each row
    /// is then added as one contiguous block (adding +0 leaves dx unchanged, dx is never −0).
    /// Contributions reach each image element in the same (c, ky, kx) order as the reference.
    /// </summary>
    internal static unsafe void FoldDestroying(in ConvGeometry g, float* cols, float* image)
    {
        if (!IsShiftedPlane(g))
        {
            Fold(g, cols, image);
            return;
        }
        int oh = g.OutH, w = g.Width, plane = oh * w;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
            {
                var (y0, y1) = InsideRows(g, ky);
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    float* src = cols + (long)((c * g.KernelH + ky) * g.KernelW + kx) * plane;
                    var (lo, hi) = InsideColumns(g, kx);
                    if (y1 <= y0 || hi <= lo) continue;
                    ZeroWrapped(src, w, y0, y1, lo, hi);
                    int first = y0 * w + lo, last = (y1 - 1) * w + hi;
                    float* dst = image + ((long)c * g.Height + y0 - g.Pad + ky) * w + lo - g.Pad + kx;
                    Elementwise.AddInPlace(new Span<float>(dst, last - first), new ReadOnlySpan<float>(src + first, last - first));
                }
            }
    }

    private static bool IsShiftedPlane(in ConvGeometry g) => g.Stride == 1 && g.OutW == g.Width;

    /// <summary>The output rows [lo, hi) whose input row oy·s − pad + ky falls inside the image.</summary>
    internal static (int Lo, int Hi) InsideRows(in ConvGeometry g, int ky) => Inside(g.Height, g.OutH, g.Stride, g.Pad, ky);

    /// <summary>The output columns [lo, hi) whose input column ox·s − pad + kx falls inside the image.</summary>
    internal static (int Lo, int Hi) InsideColumns(in ConvGeometry g, int kx) => Inside(g.Width, g.OutW, g.Stride, g.Pad, kx);

    /// <summary>Outputs o in [lo, hi) with 0 ≤ o·stride − pad + k ≤ size − 1.</summary>
    private static (int Lo, int Hi) Inside(int size, int outSize, int stride, int pad, int k)
    {
        int lo = pad - k <= 0 ? 0 : (pad - k + stride - 1) / stride;
        int last = size - 1 + pad - k;
        int hi = last < 0 ? 0 : last / stride + 1;
        lo = Math.Min(lo, outSize);
        hi = Math.Clamp(hi, lo, outSize);
        return (lo, hi);
    }
}
