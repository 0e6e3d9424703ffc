using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// im2col's and col2im's rows for layers whose column-matrix rows are not one shifted plane
/// (stride 2, or stride 1 with "valid" padding), with AVX-512 masked loads and stores: 16 output
/// columns a step, the columns that fall in the padding read as +0 through the mask (which also
/// keeps every read inside the image); stride 2 reads 32 inputs and keeps the even ones. The
/// divisions and masks of a geometry are worked out once (<see cref="RowPlan"/>), so a row of 7
/// or 14 outputs costs a few vector steps. Values are only moved, or each added once in the
/// scalar loop's order, so the bits are <see cref="Im2Col"/>'s scalar ones.
/// </summary>
internal static unsafe class StridedRows
{
    public static bool Supported(int stride) => Avx512F.IsSupported && stride is 1 or 2;

    /// <summary>Row r = (c, ky, kx) of the column matrix into dst (OH·OW floats).</summary>
    public static void Unfold(RowPlan plan, float* image, int r, float* dst)
    {
        var (c, tap) = Math.DivRem(r, plan.Taps);
        int ky = plan.TapKy[tap], kx = plan.TapKx[tap], ow = plan.OutW, s = plan.Stride, y0 = plan.RowLo[ky], y1 = plan.RowHi[ky];
        new Span<float>(dst, y0 * ow).Clear();
        new Span<float>(dst + (long)y1 * ow, (plan.OutH - y1) * ow).Clear();
        float* first = image + (long)c * plan.Plane + (long)(y0 * s - plan.Pad + ky) * plan.Width - plan.Pad + kx;
        long step = (long)s * plan.Width;
        for (int chunk = 0; chunk < plan.Chunks; chunk++)
        {
            var (m0, m1) = plan.Masks(kx, chunk);
            var keep = plan.Keep(chunk);
            float* d = dst + (long)y0 * ow + chunk * 16, p = first + (long)chunk * 16 * s;
            for (int oy = y0; oy < y1; oy++, d += ow, p += step)
            {
                var v = Avx512F.MaskLoad(p, m0, Vector512<float>.Zero);
                if (s == 2) v = Avx512F.PermuteVar16x32x2(v, Evens, Avx512F.MaskLoad(p + 16, m1, Vector512<float>.Zero));
                Avx512F.MaskStore(d, keep, v);
            }
        }
    }

    /// <summary>Adds row r = (c, ky, kx) of the column matrix (at src) into the image: col2im's inner loops.</summary>
    public static void Fold(RowPlan plan, float* src, int r, float* image)
    {
        var (c, tap) = Math.DivRem(r, plan.Taps);
        int ky = plan.TapKy[tap], kx = plan.TapKx[tap], ow = plan.OutW, s = plan.Stride, y0 = plan.RowLo[ky], y1 = plan.RowHi[ky];
        float* first = image + (long)c * plan.Plane + (long)(y0 * s - plan.Pad + ky) * plan.Width - plan.Pad + kx;
        long step = (long)s * plan.Width;
        for (int chunk = 0; chunk < plan.Chunks; chunk++)
        {
            var (m0, m1) = plan.Masks(kx, chunk);
            var inside = plan.Inside(kx, chunk);
            float* row = src + (long)y0 * ow + chunk * 16, p = first + (long)chunk * 16 * s;
            for (int oy = y0; oy < y1; oy++, row += ow, p += step)
            {
                var v = Avx512F.MaskLoad(row, inside, Vector512<float>.Zero);
                if (s == 1)
                {
                    Avx512F.MaskStore(p, m0, Avx512F.MaskLoad(p, m0, Vector512<float>.Zero) + v);
                    continue;
                }
                // Output column j goes to window lane 2j: spread the low and the high 8 columns.
                Avx512F.MaskStore(p, m0, Avx512F.MaskLoad(p, m0, Vector512<float>.Zero) + Avx512F.PermuteVar16x32(v, SpreadLow));
                Avx512F.MaskStore(p + 16, m1, Avx512F.MaskLoad(p + 16, m1, Vector512<float>.Zero) + Avx512F.PermuteVar16x32(v, SpreadHigh));
            }
        }
    }

    private static Vector512<int> Lanes => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    private static Vector512<int> Evens => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static Vector512<int> SpreadLow => Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    private static Vector512<int> SpreadHigh => Vector512.Create(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);

    /// <summary>
    /// One geometry's row facts: the output rows inside the image per ky, and per kx and chunk of 16
    /// output columns the masks of the input window (lane j of the window at offset 0 or 16 holds
    /// output column (offset + j)/stride, read when that column is inside and, at stride 2, j is
    /// even). Each kernel thread keeps the last few geometries it met, so steady training allocates nothing.
    /// </summary>
    internal sealed class RowPlan
    {
        public readonly ConvGeometry Geometry;
        public readonly int OutH, OutW, Stride, Pad, Width, Plane, Taps, Chunks;
        public readonly int[] TapKy, TapKx, RowLo, RowHi;
        private readonly Vector512<float>[] _window, _inside, _keep;

        private RowPlan(in ConvGeometry g)
        {
            Geometry = g;
            (OutH, OutW, Stride, Pad, Width, Plane) = (g.OutH, g.OutW, g.Stride, g.Pad, g.Width, g.Height * g.Width);
            Taps = g.KernelH * g.KernelW;
            Chunks = (OutW + 15) / 16;
            TapKy = new int[Taps];
            TapKx = new int[Taps];
            for (int t = 0; t < Taps; t++) (TapKy[t], TapKx[t]) = Math.DivRem(t, g.KernelW);
            RowLo = new int[g.KernelH];
            RowHi = new int[g.KernelH];
            for (int ky = 0; ky < g.KernelH; ky++) (RowLo[ky], RowHi[ky]) = Im2Col.InsideRows(g, ky);
            _window = new Vector512<float>[g.KernelW * Chunks * 2];
            _inside = new Vector512<float>[g.KernelW * Chunks];
            _keep = new Vector512<float>[Chunks];
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                int x0 = chunk * 16;
                _keep[chunk] = Between(Lanes, 0, Math.Min(16, OutW - x0));
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    var (lo, hi) = Im2Col.InsideColumns(g, kx);
                    int i = kx * Chunks + chunk;
                    _inside[i] = Between(Lanes, lo - x0, Math.Min(hi - x0, 16));
                    _window[2 * i] = Window(0, lo - x0, hi - x0);
                    _window[2 * i + 1] = Window(16, lo - x0, hi - x0);
                }
            }
        }

        public (Vector512<float>, Vector512<float>) Masks(int kx, int chunk)
        {
            int i = 2 * (kx * Chunks + chunk);
            return (_window[i], _window[i + 1]);
        }

        /// <summary>The chunk's output columns inside the image.</summary>
        public Vector512<float> Inside(int kx, int chunk) => _inside[kx * Chunks + chunk];

        /// <summary>The chunk's output columns that exist (all 16 but in the last chunk).</summary>
        public Vector512<float> Keep(int chunk) => _keep[chunk];

        private Vector512<float> Window(int offset, int lo, int hi)
        {
            if (Stride == 1) return offset == 0 ? Between(Lanes, lo, hi) : Vector512<float>.Zero;
            var even = Vector512.Equals(Lanes & Vector512<int>.One, Vector512<int>.Zero).AsSingle();
            return even & Between(Vector512.ShiftRightArithmetic(Lanes + Vector512.Create(offset), 1), lo, hi);
        }

        private static Vector512<float> Between(Vector512<int> values, int lo, int hi) =>
            (Vector512.GreaterThanOrEqual(values, Vector512.Create(lo)) & Vector512.LessThan(values, Vector512.Create(hi))).AsSingle();

        private const int Kept = 8;
        [ThreadStatic] private static RowPlan?[]? _plans;
        [ThreadStatic] private static int _next;

        /// <summary>The plan of <paramref name="g"/>, this thread's kept one if it met g lately; callers look it up once per image, not per row.</summary>
        public static RowPlan For(in ConvGeometry g)
        {
            var plans = _plans ??= new RowPlan?[Kept];
            foreach (var p in plans)
                if (p != null && p.Geometry == g) return p;
            var plan = new RowPlan(g);
            plans[_next] = plan;
            _next = (_next + 1) % Kept;
            return plan;
        }
    }
}
