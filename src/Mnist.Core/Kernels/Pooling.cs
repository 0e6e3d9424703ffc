using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// Max and average pooling over a batch of NCHW images. Max pooling records, for each output, the
/// flat input index (within the batch) of the winning element so backward is a scatter (each
/// winner must lie in its output's own plane, as MaxForward's always do). Max pooling of large
/// batches runs on the kernel threads, a range of planes each.
/// The 2×2 stride-2 window (the classic network's) has its own branch-free AVX2 loop, eight outputs
/// at a time; every path picks the same winner as the reference (first maximum in window order).
/// (Sixteen at a time with AVX-512 ran faster alone but no faster inside a training epoch, where
/// these passes wait on memory: measured and dropped.)
/// </summary>
public static class Pooling
{
    public static unsafe void MaxForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y, Span<int> argmax)
    {
        Check(g, batch, x.Length, y.Length);
        if (argmax.Length < batch * g.Channels * g.OutPlane) throw new ArgumentException("pooling argmax buffer too small");
        fixed (float* px = x, py = y)
        fixed (int* pa = argmax)
        {
            var job = _job ??= new PlaneJob();
            job.Set(PlaneJob.Op.MaxForward, g, batch * g.Channels, px, py, pa);
            job.Run();
        }
    }

    /// <summary>Writes dx (zeroing it first) from dy and the recorded argmax.</summary>
    public static unsafe void MaxBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, Span<float> dx)
    {
        Check(g, batch, dx.Length, dy.Length);
        if (argmax.Length < batch * g.Channels * g.OutPlane) throw new ArgumentException("pooling argmax buffer too small");
        fixed (float* pdy = dy, pdx = dx)
        fixed (int* pa = argmax)
        {
            var job = _job ??= new PlaneJob();
            job.Set(PlaneJob.Op.MaxBackward, g, batch * g.Channels, pdx, pdy, pa);
            job.Run();
            if (job.BadIndex) throw new ArgumentException("pooling argmax points outside the window's plane");
        }
    }

    /// <summary>
    /// Clears planes [p0, p1) of dx and scatters their outputs' gradients to the recorded winners
    /// (false when a winner lies outside its plane); a fused convolution unpools one image at a time through it.
    /// </summary>
    internal static unsafe bool MaxBackwardPlanes(in PoolGeometry g, int p0, int p1, float* dy, int* argmax, float* dx)
    {
        if (IsHalving(g) && Avx2.IsSupported && MaxBackwardHalving(g, p0, p1, dy, argmax, dx)) return true;
        // Locals, not g's properties: writes through dx could alias g as far as the JIT knows.
        int inPlane = g.InPlane, outPlane = g.OutPlane;
        new Span<float>(dx + (long)p0 * inPlane, (p1 - p0) * inPlane).Clear();
        for (int p = p0; p < p1; p++)
        {
            float* plane = dx + (long)p * inPlane;
            int start = p * inPlane;
            for (int o = p * outPlane, end = o + outPlane; o < end; o++)
            {
                // A winner outside its own plane would race with another thread: refuse it.
                uint i = (uint)(argmax[o] - start);
                if (i >= (uint)inPlane) return false;
                plane[i] += dy[o];
            }
        }
        return true;
    }

    /// <summary>
    /// 2×2 stride 2: each window's four gradients are written directly (dy at the winner, +0 elsewhere),
    /// eight windows at a time, so dx is neither cleared first nor scattered into; only a last odd row
    /// or column, which no window covers, is cleared. False when a winner lies outside its window
    /// (then the caller scatters instead).
    /// </summary>
    private static unsafe bool MaxBackwardHalving(in PoolGeometry g, int p0, int p1, float* dy, int* argmax, float* dx)
    {
        int w = g.Width, ow = g.OutW, oh = g.OutH, inPlane = g.InPlane, outPlane = g.OutPlane;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var evenOffsets = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var one = Vector256.Create(1);
        var width = Vector256.Create(w);
        var widthPlusOne = Vector256.Create(w + 1);
        for (int p = p0; p < p1; p++)
        {
            float* plane = dx + (long)p * inPlane;
            for (int oy = 0; oy < oh; oy++)
            {
                int start = p * inPlane + 2 * oy * w;
                float* r0 = plane + 2 * oy * w, r1 = r0 + w;
                float* d = dy + (long)p * outPlane + oy * ow;
                int* a = argmax + (long)p * outPlane + oy * ow;
                for (int ox = 0; ox < ow; ox += 8)
                {
                    int count = Math.Min(8, ow - ox);
                    var outMask = Vector256.LessThan(lanes, Vector256.Create(count));
                    var grad = Avx.MaskLoad(d + ox, outMask.AsSingle());
                    var rel = Avx2.MaskLoad(a + ox, outMask) - (Vector256.Create(start + 2 * ox) + evenOffsets);
                    var topLeft = Vector256.Equals(rel, Vector256<int>.Zero);
                    var topRight = Vector256.Equals(rel, one);
                    var bottomLeft = Vector256.Equals(rel, width);
                    var bottomRight = Vector256.Equals(rel, widthPlusOne);
                    var inside = (topLeft | topRight | bottomLeft | bottomRight) | ~outMask;
                    if (!Vector256.EqualsAll(inside, Vector256<int>.AllBitsSet)) return false;
                    // + 0 turns a −0 gradient into +0, as 0 + dy does in the reference.
                    var zero = Vector256<float>.Zero;
                    var tl = Vector256.ConditionalSelect(topLeft.AsSingle(), grad, zero) + zero;
                    var tr = Vector256.ConditionalSelect(topRight.AsSingle(), grad, zero) + zero;
                    var bl = Vector256.ConditionalSelect(bottomLeft.AsSingle(), grad, zero) + zero;
                    var br = Vector256.ConditionalSelect(bottomRight.AsSingle(), grad, zero) + zero;
                    StoreInterleaved(r0 + 2 * ox, tl, tr, count);
                    StoreInterleaved(r1 + 2 * ox, bl, br, count);
                }
                if ((w & 1) != 0)
                {
                    r0[w - 1] = 0f;
                    r1[w - 1] = 0f;
                }
            }
            // Rows below the last window pair.
            for (int y = 2 * oh; y < g.Height; y++) new Span<float>(plane + (long)y * w, w).Clear();
        }
        return true;
    }

    /// <summary>Writes e0, o0, e1, o1, … (2·count floats; all 16 when count is 8).</summary>
    private static unsafe void StoreInterleaved(float* p, Vector256<float> even, Vector256<float> odd, int count)
    {
        var low = Avx.UnpackLow(even, odd);
        var high = Avx.UnpackHigh(even, odd);
        var first = Avx.Permute2x128(low, high, 0x20);
        var second = Avx.Permute2x128(low, high, 0x31);
        if (count == 8)
        {
            Avx.Store(p, first);
            Avx.Store(p + 8, second);
            return;
        }
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Avx.MaskStore(p, Vector256.LessThan(lanes, Vector256.Create(2 * count)).AsSingle(), first);
        Avx.MaskStore(p + 8, Vector256.LessThan(lanes, Vector256.Create(2 * count - 8)).AsSingle(), second);
    }

    [ThreadStatic] private static PlaneJob? _job;

    /// <summary>Max pooling forward or backward over ranges of planes, on the kernel threads when large.</summary>
    private sealed unsafe class PlaneJob : IParallelWork
    {
        public enum Op { MaxForward, MaxBackward }

        private const int MinInputsPerTask = 1 << 16;
        private Op _op;
        private PoolGeometry _g;
        private int _planes, _tasks, _bad;
        private float* _a, _b;
        private int* _argmax;

        public bool BadIndex => _bad != 0;

        /// <summary>MaxForward: a = x, b = y. MaxBackward: a = dx, b = dy.</summary>
        public void Set(Op op, in PoolGeometry g, int planes, float* a, float* b, int* argmax)
        {
            _op = op; _g = g; _planes = planes; _a = a; _b = b; _argmax = argmax; _bad = 0;
            long inputs = (long)planes * g.InPlane;
            _tasks = (int)Math.Clamp(inputs / MinInputsPerTask, 1, Math.Max(1, planes));
        }

        public void Run()
        {
            if (_tasks > 1 && KernelThreads.ThreadsFor(_tasks) > 1) KernelThreads.For(_tasks, this);
            else for (int t = 0; t < _tasks; t++) Run(t, 0);
        }

        public void Run(int task, int thread)
        {
            int p0 = (int)((long)_planes * task / _tasks), p1 = (int)((long)_planes * (task + 1) / _tasks);
            if (_op == Op.MaxBackward)
            {
                if (!MaxBackwardPlanes(_g, p0, p1, _b, _argmax, _a)) Interlocked.Exchange(ref _bad, 1);
            }
            else if (IsHalving(_g)) MaxHalving(_g, p0, p1, _a, _b, _argmax);
            else MaxGeneral(_g, p0, p1, _a, _b, _argmax);
        }
    }

    public static unsafe void AvgForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y)
    {
        Check(g, batch, x.Length, y.Length);
        int planes = batch * g.Channels, size = g.Size, s = g.Stride, ow = g.OutW;
        float inv = 1f / (size * size);
        fixed (float* px = x, py = y)
        {
            for (int p = 0; p < planes; p++)
                for (int oy = 0; oy < g.OutH; oy++)
                {
                    float* row = px + (long)p * g.InPlane + oy * s * g.Width;
                    float* o = py + (long)p * g.OutPlane + oy * ow;
                    if (IsHalving(g))
                        for (int ox = 0; ox < ow; ox++)
                        {
                            float* w = row + 2 * ox;
                            o[ox] = (w[0] + w[1] + w[g.Width] + w[g.Width + 1]) * inv;
                        }
                    else
                        for (int ox = 0; ox < ow; ox++)
                        {
                            float sum = 0f;
                            for (int ky = 0; ky < size; ky++)
                                for (int kx = 0; kx < size; kx++) sum += row[ky * g.Width + ox * s + kx];
                            o[ox] = sum * inv;
                        }
                }
        }
    }

    /// <summary>Writes dx (zeroing it first) from dy.</summary>
    public static unsafe void AvgBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, Span<float> dx)
    {
        Check(g, batch, dx.Length, dy.Length);
        int planes = batch * g.Channels, size = g.Size, s = g.Stride, ow = g.OutW;
        float inv = 1f / (size * size);
        dx[..(planes * g.InPlane)].Clear();
        fixed (float* pdy = dy, pdx = dx)
        {
            for (int p = 0; p < planes; p++)
                for (int oy = 0; oy < g.OutH; oy++)
                {
                    float* row = pdx + (long)p * g.InPlane + oy * s * g.Width;
                    float* d = pdy + (long)p * g.OutPlane + oy * ow;
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float share = d[ox] * inv;
                        for (int ky = 0; ky < size; ky++)
                            for (int kx = 0; kx < size; kx++) row[ky * g.Width + ox * s + kx] += share;
                    }
                }
        }
    }

    private static bool IsHalving(in PoolGeometry g) => g.Size == 2 && g.Stride == 2;

    private static void Check(in PoolGeometry g, int batch, int inputFloats, int outputFloats)
    {
        if (g.Size < 1 || g.Stride < 1 || g.Channels < 1 || g.OutH < 1 || g.OutW < 1 || batch < 0)
            throw new ArgumentException($"invalid pooling {g} with batch {batch}");
        if (inputFloats < (long)batch * g.Channels * g.InPlane || outputFloats < (long)batch * g.Channels * g.OutPlane)
            throw new ArgumentException($"pooling buffers too small for {g}, batch {batch}");
    }

    private static unsafe void MaxGeneral(in PoolGeometry g, int p0, int p1, float* x, float* y, int* argmax)
    {
        for (int p = p0; p < p1; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    int best = p * g.InPlane + oy * g.Stride * g.Width + ox * g.Stride;
                    for (int ky = 0; ky < g.Size; ky++)
                    {
                        int i = p * g.InPlane + (oy * g.Stride + ky) * g.Width + ox * g.Stride;
                        for (int kx = 0; kx < g.Size; kx++, i++)
                            if (x[i] > x[best]) best = i;
                    }
                    int o = p * g.OutPlane + oy * g.OutW + ox;
                    y[o] = x[best];
                    argmax[o] = best;
                }
    }

    /// <summary>
    /// 2×2 stride 2: eight outputs of a row at a time from two rows of sixteen inputs, branch-free
    /// (random data makes every comparison a coin toss for the branch predictor). Short or odd rows
    /// use masked loads and stores, so no element outside the row is read or written. Planes [p0, p1)
    /// of a batch at x (argmax gets flat indices from x); fused convolutions pool one plane at a time through it.
    /// </summary>
    internal static unsafe void MaxHalving(in PoolGeometry g, int p0, int p1, float* x, float* y, int* argmax)
    {
        if (!Avx2.IsSupported)
        {
            MaxGeneral(g, p0, p1, x, y, argmax);
            return;
        }
        int w = g.Width, ow = g.OutW;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var evenOffsets = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        for (int p = p0; p < p1; p++)
            for (int oy = 0; oy < g.OutH; oy++)
            {
                int start = p * g.InPlane + 2 * oy * w;
                float* r0 = x + start, r1 = r0 + w;
                float* o = y + (long)p * g.OutPlane + oy * ow;
                int* a = argmax + (long)p * g.OutPlane + oy * ow;
                for (int ox = 0; ox < ow; ox += 8)
                {
                    int count = Math.Min(8, ow - ox);
                    // Masks for the 2·count inputs (two vectors) and the count outputs.
                    var inLo = Vector256.LessThan(lanes, Vector256.Create(2 * count)).AsSingle();
                    var inHi = Vector256.LessThan(lanes, Vector256.Create(2 * count - 8)).AsSingle();
                    var (e0, o0) = Deinterleave(r0 + 2 * ox, count, inLo, inHi);
                    var (e1, o1) = Deinterleave(r1 + 2 * ox, count, inLo, inHi);
                    var (best, index) = WindowWinners(e0, o0, e1, o1, Vector256.Create(start + 2 * ox) + evenOffsets, w);
                    if (count == 8)
                    {
                        Avx.Store(o + ox, best);
                        Avx.Store(a + ox, index);
                    }
                    else
                    {
                        var outMask = Vector256.LessThan(lanes, Vector256.Create(count));
                        Avx.MaskStore(o + ox, outMask.AsSingle(), best);
                        Avx2.MaskStore(a + ox, outMask, index);
                    }
                }
            }
    }

    /// <summary>
    /// Eight 2×2 windows' maxima and their winners' flat indices, from the windows' top-left, top-right,
    /// bottom-left and bottom-right values and the top-left elements' indices (rows <paramref name="width"/>
    /// apart). Strictly greater, in window order: ties keep the earlier element, as the reference does.
    /// Every 2×2 max pooling (and the Winograd layers that pool their own tiles) picks winners here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float> Max, Vector256<int> Index) WindowWinners(Vector256<float> topLeft, Vector256<float> topRight,
        Vector256<float> bottomLeft, Vector256<float> bottomRight, Vector256<int> topLeftIndex, int width)
    {
        var best = topLeft;
        var index = topLeftIndex;
        var take = Avx.CompareGreaterThan(topRight, best);
        best = Avx.BlendVariable(best, topRight, take);
        index = Avx2.BlendVariable(index, topLeftIndex + Vector256.Create(1), take.AsInt32());
        take = Avx.CompareGreaterThan(bottomLeft, best);
        best = Avx.BlendVariable(best, bottomLeft, take);
        index = Avx2.BlendVariable(index, topLeftIndex + Vector256.Create(width), take.AsInt32());
        take = Avx.CompareGreaterThan(bottomRight, best);
        best = Avx.BlendVariable(best, bottomRight, take);
        index = Avx2.BlendVariable(index, topLeftIndex + Vector256.Create(width + 1), take.AsInt32());
        return (best, index);
    }

    /// <summary>2·count consecutive floats (masked when count &lt; 8) → (those at even positions, those at odd positions).</summary>
    private static unsafe (Vector256<float> Even, Vector256<float> Odd) Deinterleave(float* p, int count,
        Vector256<float> maskLo, Vector256<float> maskHi)
    {
        Vector256<float> lo, hi;
        if (count == 8)
        {
            lo = Avx.LoadVector256(p);
            hi = Avx.LoadVector256(p + 8);
        }
        else
        {
            lo = Avx.MaskLoad(p, maskLo);
            hi = Avx.MaskLoad(p + 8, maskHi);
        }
        return Deinterleave(lo, hi);
    }

    /// <summary>16 floats in two vectors → (the 8 at even positions, the 8 at odd positions).</summary>
    private static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(Vector256<float> lo, Vector256<float> hi)
    {
        // Shuffle works within 128-bit halves; the 64-bit permute puts the halves back in order.
        var even = Avx.Shuffle(lo, hi, 0b10_00_10_00);
        var odd = Avx.Shuffle(lo, hi, 0b11_01_11_01);
        return (Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle(),
                Avx2.Permute4x64(odd.AsDouble(), 0b11_01_10_00).AsSingle());
    }
}
