using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// The forward pass of a 3×3 first layer (one input channel, stride 1: classic's conv1 1→32, best's
/// first convolution) computed directly instead of as im2col + a GEMM with k = 9, which wastes most
/// of each tile. Each image is copied once into a zero-padded plane; then, per output channel, its
/// nine weights stay in registers while every 16 outputs of a row are a chain of nine fused
/// multiply-adds of shifted input vectors.
/// </summary>
/// <remarks>
/// The same bits as the im2col path on FMA machines: the GEMM tile starts each output at +0 and adds
/// w[o, k]·cols[k] for k in order with one fused multiply-add each (padding included, as zeros),
/// then the bias is added; this does exactly that, lane by lane. Machines without FMA (and the
/// portable GEMM the tests can force) keep im2col, whose multiply-then-add rounds differently.
/// </remarks>
internal static unsafe class DirectConvolution
{
    private const int Lanes = 16;

    /// <summary>Workspace slot of the per-thread padded planes (after <see cref="WinogradConvolution"/>'s).</summary>
    private const int PaddedSlot = 7;

    /// <summary>
    /// One input channel, 3×3, stride 1, rows of at least one AVX-512 vector, on the AVX-512 GEMM path.
    /// A loop over the taps (any kernel size) measured 3× slower than im2col (conv1 forward, one
    /// thread, Zen 5: 1.26–1.43 ms against 0.41–0.48), and 8-lane vectors do no better than the GEMM.
    /// </summary>
    public static bool Applies(in ConvGeometry g) =>
        g.Channels == 1 && g.Stride == 1 && g.KernelH == 3 && g.KernelW == 3 && g.OutW >= Lanes
        && Avx512F.IsSupported && GemmDriver.Path == GemmPath.Avx512;

    public static void Forward(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias, float* y, Workspace ws) =>
        Run(g, outChannels, batch, x, w, bias, y, default, null, null, ws);

    /// <summary>
    /// Forward followed by 2×2 stride-2 max pooling (<paramref name="pool"/>, over this layer's
    /// output): each output plane is computed into the thread's scratch and pooled while it is in L1
    /// (<see cref="Pooling.MaxHalving"/>, so the same winners and bits as pooling y), and y itself is
    /// never written. argmax indexes y as MaxPoolForward's would.
    /// </summary>
    public static void ForwardPooled(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias,
        in PoolGeometry pool, float* pooled, int* argmax, Workspace ws) =>
        Run(g, outChannels, batch, x, w, bias, null, pool, pooled, argmax, ws);

    private static void Run(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias, float* y,
        in PoolGeometry pool, float* pooled, int* argmax, Workspace ws)
    {
        int threads = KernelThreads.ThreadsFor(batch);
        int perThread = PaddedSize(g) + (pooled == null ? 0 : g.OutH * g.OutW);
        var scratch = ws.Get(PaddedSlot, threads * perThread);
        fixed (float* ps = scratch)
        {
            var job = _forward ??= new ForwardJob();
            job.Set(g, outChannels, x, w, bias, y, ps, perThread, pool, pooled, argmax);
            if (threads > 1) KernelThreads.For(batch, job);
            else for (int n = 0; n < batch; n++) job.Run(n, 0);
        }
    }

    [ThreadStatic] private static ForwardJob? _forward;

    private static int PaddedWidth(in ConvGeometry g) => g.Width + 2 * g.Pad;

    private static int PaddedSize(in ConvGeometry g) => (g.Height + 2 * g.Pad) * PaddedWidth(g);

    private sealed class ForwardJob : IParallelWork
    {
        private ConvGeometry _g;
        private PoolGeometry _pool;
        private int _out, _perThread;
        private float* _x, _w, _bias, _y, _scratch, _pooled;
        private int* _argmax;

        /// <summary>y null: pool each plane into pooled and argmax instead of writing it.</summary>
        public void Set(in ConvGeometry g, int outChannels, float* x, float* w, float* bias, float* y, float* scratch, int perThread,
            in PoolGeometry pool, float* pooled, int* argmax)
        {
            _g = g; _out = outChannels; _x = x; _w = w; _bias = bias; _y = y; _scratch = scratch; _perThread = perThread;
            _pool = pool; _pooled = pooled; _argmax = argmax;
        }

        public void Run(int n, int thread)
        {
            int oh = _g.OutH, ow = _g.OutW, pw = PaddedWidth(_g);
            float* plane = _scratch + (long)thread * _perThread;
            float* outputPlane = plane + PaddedSize(_g);
            PaddedPlane.Copy(_x + (long)n * _g.ImageSize, _g.Height, _g.Width, _g.Pad, plane, _g.Height + 2 * _g.Pad, pw);
            for (int o = 0; o < _out; o++)
            {
                float* k = _w + o * 9;
                Vector512<float> w0 = Vector512.Create(k[0]), w1 = Vector512.Create(k[1]), w2 = Vector512.Create(k[2]),
                    w3 = Vector512.Create(k[3]), w4 = Vector512.Create(k[4]), w5 = Vector512.Create(k[5]),
                    w6 = Vector512.Create(k[6]), w7 = Vector512.Create(k[7]), w8 = Vector512.Create(k[8]);
                var b = Vector512.Create(_bias[o]);
                long index = (long)n * _out + o; // the plane's index in the batch's output
                float* yo = _y == null ? outputPlane : _y + index * oh * ow;
                for (int ox = 0; ox < ow; ox += Lanes)
                {
                    // A short last vector moves back to end with the row: it recomputes a few outputs, with the same bits.
                    int at = Math.Min(ox, ow - Lanes);
                    float* r = plane + at;
                    float* yr = yo + at;
                    int oy = 0;
                    // Two output rows at a time share their middle input rows' loads and interleave two chains.
                    for (; oy + 1 < oh; oy += 2, r += 2 * pw, yr += 2 * ow)
                    {
                        var i0 = Avx512F.LoadVector512(r);
                        var i1 = Avx512F.LoadVector512(r + 1);
                        var i2 = Avx512F.LoadVector512(r + 2);
                        var acc = Avx512F.FusedMultiplyAdd(w0, i0, Vector512<float>.Zero);
                        acc = Avx512F.FusedMultiplyAdd(w1, i1, acc);
                        acc = Avx512F.FusedMultiplyAdd(w2, i2, acc);
                        i0 = Avx512F.LoadVector512(r + pw);
                        i1 = Avx512F.LoadVector512(r + pw + 1);
                        i2 = Avx512F.LoadVector512(r + pw + 2);
                        var next = Avx512F.FusedMultiplyAdd(w0, i0, Vector512<float>.Zero);
                        acc = Avx512F.FusedMultiplyAdd(w3, i0, acc);
                        next = Avx512F.FusedMultiplyAdd(w1, i1, next);
                        acc = Avx512F.FusedMultiplyAdd(w4, i1, acc);
                        next = Avx512F.FusedMultiplyAdd(w2, i2, next);
                        acc = Avx512F.FusedMultiplyAdd(w5, i2, acc);
                        i0 = Avx512F.LoadVector512(r + 2 * pw);
                        i1 = Avx512F.LoadVector512(r + 2 * pw + 1);
                        i2 = Avx512F.LoadVector512(r + 2 * pw + 2);
                        next = Avx512F.FusedMultiplyAdd(w3, i0, next);
                        acc = Avx512F.FusedMultiplyAdd(w6, i0, acc);
                        next = Avx512F.FusedMultiplyAdd(w4, i1, next);
                        acc = Avx512F.FusedMultiplyAdd(w7, i1, acc);
                        next = Avx512F.FusedMultiplyAdd(w5, i2, next);
                        acc = Avx512F.FusedMultiplyAdd(w8, i2, acc);
                        Avx512F.Store(yr, acc + b);
                        i0 = Avx512F.LoadVector512(r + 3 * pw);
                        i1 = Avx512F.LoadVector512(r + 3 * pw + 1);
                        i2 = Avx512F.LoadVector512(r + 3 * pw + 2);
                        next = Avx512F.FusedMultiplyAdd(w6, i0, next);
                        next = Avx512F.FusedMultiplyAdd(w7, i1, next);
                        next = Avx512F.FusedMultiplyAdd(w8, i2, next);
                        Avx512F.Store(yr + ow, next + b);
                    }
                    if (oy < oh)
                    {
                        // The GEMM tile's order: from +0, tap 0 to tap 8, one fused multiply-add each.
                        var acc = Taps(w0, w1, w2, r, Vector512<float>.Zero);
                        acc = Taps(w3, w4, w5, r + pw, acc);
                        Avx512F.Store(yr, Taps(w6, w7, w8, r + 2 * pw, acc) + b);
                    }
                }
                // The plane's winners index the output as if it were at its place in y: shift the base back by as much.
                if (_y == null)
                    Pooling.MaxHalving(_pool, (int)index, (int)index + 1, outputPlane - index * oh * ow, _pooled, _argmax);
            }
        }
    }

    /// <summary>acc + a·r[0] + b·r[1] + c·r[2], one fused multiply-add at a time, in that order.</summary>
    private static Vector512<float> Taps(Vector512<float> a, Vector512<float> b, Vector512<float> c, float* r, Vector512<float> acc) =>
        Avx512F.FusedMultiplyAdd(c, Avx512F.LoadVector512(r + 2),
            Avx512F.FusedMultiplyAdd(b, Avx512F.LoadVector512(r + 1), Avx512F.FusedMultiplyAdd(a, Avx512F.LoadVector512(r), acc)));
}
