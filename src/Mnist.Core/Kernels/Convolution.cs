using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// 2-D convolution of a batch of NCHW images with weights laid out [outChannels, C, KH, KW]:
/// y[n, o, oy, ox] = bias[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx].
/// Every method overwrites its outputs.
/// </summary>
/// <remarks>
/// im2col + GEMM, one image at a time, so each image's column matrix (C·KH·KW × OH·OW) is unfolded
/// into a per-thread scratch (workspace slot 0) that stays in the core's cache while the GEMM reads it,
/// and the weights are packed for the GEMM once per call (slot 2), not once per image.
/// Forward: y_n = W·cols_n + bias. BackwardData: cols = Wᵀ·dy_n, folded into dx_n. Both thread over
/// images. BackwardWeights: dW = Σ_n dy_n·cols_nᵀ, summed image by image within up to eight fixed
/// groups of images (threaded over groups), then group by group; the groups depend on the batch
/// alone, so the result does not depend on the thread count. It unfolds x again rather than
/// keeping Forward's columns (a batch of them is 14 MB for the classic conv2): recomputing them
/// measured no slower than streaming them back, and BackwardWeights then depends on nothing but its
/// arguments. A 1×1, stride-1, unpadded convolution uses x itself as its column matrix. 3×3
/// stride-1 layers with 8 or more input and output channels go to <see cref="WinogradConvolution"/>
/// instead (4/9 of the products; the weight gradient from 16 channels), where it measured faster,
/// and single-channel first layers' forward to <see cref="DirectConvolution"/> (the same bits);
/// im2col stays the path for every other shape and the tests' yardstick.
/// </remarks>
public static class Convolution
{
    private const int ScratchSlot = 0, PartialsSlot = 1, WeightsSlot = 2, PlaneSumsSlot = 8;

    /// <summary>Most image groups BackwardWeights sums separately (and so most threads it uses).</summary>
    private const int WeightGroups = 8;

    public static unsafe void Forward(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Workspace ws)
    {
        Check(g, outChannels, batch, x.Length, w.Length, y.Length, "y");
        if (bias.Length < outChannels) throw new ArgumentException($"convolution bias has {bias.Length} floats, needs {outChannels}");
        ArgumentNullException.ThrowIfNull(ws);
        if (batch == 0) return;
        if (UsesWinograd(g, outChannels))
        {
            fixed (float* px = x, pw = w, pb = bias, py = y) WinogradConvolution.Forward(g, outChannels, batch, px, pw, pb, py, ws);
            return;
        }
        if (DirectAllowed && DirectConvolution.Applies(g))
        {
            fixed (float* px = x, pw = w, pb = bias, py = y) DirectConvolution.Forward(g, outChannels, batch, px, pw, pb, py, ws);
            return;
        }
        bool direct = IsPointwise(g);
        var scratch = direct ? default : ws.Get(ScratchSlot, ImageThreads(batch) * Im2Col.PackedSize(g));
        var packedW = ws.Get(WeightsSlot, GemmDriver.PackedASize(outChannels, g.ColRows));
        fixed (float* px = x, pw = w, pb = bias, py = y, ps = scratch, pp = packedW)
        {
            // W is op(A) of every image's product: pack it once for all of them.
            GemmDriver.PackWholeA(ForwardProduct(g, outChannels, pw, null, null, null), pp);
            var job = _forward ??= new ForwardJob();
            job.Set(g, outChannels, px, pw, pb, py, ps, pp, direct);
            RunImages(batch, job, Flops(g, outChannels, batch));
        }
    }

    /// <summary>
    /// Forward followed by max pooling of y (<paramref name="pool"/>, 2×2 stride 2, over y's
    /// planes) in one pass, where a fused kernel covers the layer: Winograd layers with AVX2 and
    /// direct first layers. pooled and argmax get what <see cref="Pooling.MaxForward"/> of y would
    /// give, bit for bit (argmax indexes y), and y is never written, which saves a write and a read
    /// of the layer's full-size output. False, with nothing written, for every other layer.
    /// </summary>
    public static unsafe bool ForwardPooled(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> bias, in PoolGeometry pool, Span<float> pooled, Span<int> argmax, Workspace ws)
    {
        bool halving = HalvesOutput(g, outChannels, pool);
        bool winograd = UsesWinograd(g, outChannels), direct = !winograd && DirectAllowed && DirectConvolution.Applies(g);
        if (!halving || !Avx2.IsSupported || !(winograd || direct)) return false;
        Check(g, outChannels, batch, x.Length, w.Length, int.MaxValue, "y"); // y is not written: nothing to check there
        if (bias.Length < outChannels) throw new ArgumentException($"convolution bias has {bias.Length} floats, needs {outChannels}");
        long outputs = (long)batch * outChannels * pool.OutPlane;
        if (pooled.Length < outputs || argmax.Length < outputs) throw new ArgumentException($"pooled output or argmax too small for {pool}, batch {batch}");
        ArgumentNullException.ThrowIfNull(ws);
        if (batch == 0) return true;
        fixed (float* px = x, pw = w, pb = bias, py = pooled)
        fixed (int* pa = argmax)
        {
            if (winograd) WinogradConvolution.ForwardPooled(g, outChannels, batch, px, pw, pb, pool, py, pa, ws);
            else DirectConvolution.ForwardPooled(g, outChannels, batch, px, pw, pb, pool, py, pa, ws);
        }
        return true;
    }

    /// <summary>dx = gradient of the loss with respect to x, given dy.</summary>
    public static unsafe void BackwardData(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> w, Span<float> dx, Workspace ws)
    {
        Check(g, outChannels, batch, dx.Length, w.Length, dy.Length, "dy");
        ArgumentNullException.ThrowIfNull(ws);
        if (batch == 0) return;
        if (UsesWinograd(g, outChannels))
        {
            fixed (float* pdy = dy, pw = w, pdx = dx) WinogradConvolution.BackwardData(g, outChannels, batch, pdy, pw, pdx, ws);
            return;
        }
        bool direct = IsPointwise(g);
        var scratch = direct ? default : ws.Get(ScratchSlot, ImageThreads(batch) * g.ColRows * g.ColCols);
        var packedW = ws.Get(WeightsSlot, GemmDriver.PackedASize(g.ColRows, outChannels));
        fixed (float* pdy = dy, pw = w, pdx = dx, ps = scratch, pp = packedW)
        {
            // Wᵀ is op(A) of every image's product: pack it once for all of them.
            GemmDriver.PackWholeA(DataProduct(g, outChannels, pw, null, null, null), pp);
            var job = _backwardData ??= new BackwardDataJob();
            job.Set(g, outChannels, pdy, pw, pdx, ps, pp, direct);
            RunImages(batch, job, Flops(g, outChannels, batch));
        }
    }

    /// <summary>dw and db = gradients of the loss with respect to the weights and bias, given x and dy.</summary>
    public static unsafe void BackwardWeights(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> dy, Span<float> dw, Span<float> db, Workspace ws)
    {
        Check(g, outChannels, batch, x.Length, dw.Length, dy.Length, "dy");
        if (db.Length < outChannels) throw new ArgumentException($"convolution bias gradient has {db.Length} floats, needs {outChannels}");
        ArgumentNullException.ThrowIfNull(ws);
        int rows = g.ColRows;
        if (batch == 0)
        {
            dw[..(outChannels * rows)].Clear();
            db[..outChannels].Clear();
            return;
        }
        if (WinogradAllowed && WinogradConvolution.AppliesToWeights(g, outChannels))
        {
            fixed (float* px = x, pdy = dy, pdw = dw) WinogradConvolution.BackwardWeights(g, outChannels, batch, px, pdy, pdw, ws);
            Elementwise.SumChannels(dy, batch, g.ColCols, db[..outChannels]);
            return;
        }
        fixed (float* px = x, pdy = dy, pdw = dw) WeightsByImages(g, outChannels, batch, px, pdy, default, pdw, db, ws);
    }

    /// <summary>
    /// <see cref="BackwardWeights"/> of a layer whose output went through 2×2 stride-2 max pooling
    /// (<paramref name="pool"/>, its winners in <paramref name="argmax"/>), from the pooled
    /// gradient: each image's dy is unpooled into the thread's scratch just before its product reads
    /// it, and its planes summed there for the bias gradient, so the full-size dy is never written
    /// or read back. The values are <see cref="Pooling.MaxBackward"/>'s and the sums run in
    /// BackwardWeights' order: the same bits as the two calls. im2col layers only (Winograd's weight
    /// gradient reads dy by tiles across images): false, with nothing done, for the others.
    /// </summary>
    public static unsafe bool BackwardWeightsPooled(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        in PoolGeometry pool, ReadOnlySpan<float> pooledGrad, ReadOnlySpan<int> argmax, Span<float> dw, Span<float> db, Workspace ws)
    {
        if (!HalvesOutput(g, outChannels, pool) || WinogradAllowed && WinogradConvolution.AppliesToWeights(g, outChannels) || batch == 0) return false;
        Check(g, outChannels, batch, x.Length, dw.Length, int.MaxValue, "dy"); // dy is not read: nothing to check there
        if (db.Length < outChannels) throw new ArgumentException($"convolution bias gradient has {db.Length} floats, needs {outChannels}");
        long outputs = (long)batch * outChannels * pool.OutPlane;
        if (pooledGrad.Length < outputs || argmax.Length < outputs) throw new ArgumentException($"pooled gradient or argmax too small for {pool}, batch {batch}");
        ArgumentNullException.ThrowIfNull(ws);
        fixed (float* px = x, pg = pooledGrad, pdw = dw)
        fixed (int* pa = argmax)
            WeightsByImages(g, outChannels, batch, px, null, new PooledGradient(pool, pg, pa), pdw, db, ws);
        return true;
    }

    /// <summary>Whether <paramref name="pool"/> is 2×2 stride-2 max pooling over this layer's whole output, the pooling the fused kernels do.</summary>
    private static bool HalvesOutput(in ConvGeometry g, int outChannels, in PoolGeometry pool) =>
        pool.Size == 2 && pool.Stride == 2 && pool.Channels == outChannels && pool.Height == g.OutH && pool.Width == g.OutW
        && g.OutH >= 2 && g.OutW >= 2;

    /// <summary>A pooled layer's gradient and winners, from which each image's dy is unpooled.</summary>
    private readonly unsafe struct PooledGradient(PoolGeometry pool, float* gradient, int* argmax)
    {
        public readonly PoolGeometry Pool = pool;
        public readonly float* Gradient = gradient;
        public readonly int* Argmax = argmax;
    }

    /// <summary>The im2col weight and bias gradients from dy, or (dy null) from the pooled gradient.</summary>
    private static unsafe void WeightsByImages(in ConvGeometry g, int outChannels, int batch, float* x, float* dy,
        in PooledGradient pooled, float* dw, Span<float> db, Workspace ws)
    {
        int rows = g.ColRows;
        bool direct = IsPointwise(g);
        // dWᵀ = Σ cols·dyᵀ when that wastes less of the tiles (conv1: 32×9 becomes 9×32).
        bool transposed = TileUse(rows, outChannels) > 1.1 * TileUse(outChannels, rows);
        // Fixed groups of images, each summed into its own partial dW, then the partials in group
        // order: the grouping depends on the batch only, so any number of threads gives the same bits.
        int groups = Math.Min(batch, WeightGroups), size = rows * outChannels;
        bool parallel = Flops(g, outChannels, batch) >= GemmDriver.ParallelFlops;
        int threads = parallel ? KernelThreads.ThreadsFor(groups) : 1;
        int perThread = (direct ? 0 : WeightsScratch(g, transposed)) + (dy == null ? outChannels * g.ColCols : 0);
        var scratch = ws.Get(ScratchSlot, threads * perThread);
        var partials = ws.Get(PartialsSlot, groups * size);
        var planeSums = dy == null ? ws.Get(PlaneSumsSlot, batch * outChannels) : default;
        fixed (float* ps = scratch, pp = partials, pps = planeSums)
        {
            var job = _backwardWeights ??= new BackwardWeightsJob();
            job.Set(g, outChannels, batch, groups, x, dy, pooled, pps, pp, ps, perThread, direct, transposed);
            if (parallel && threads > 1) KernelThreads.For(groups, job);
            else for (int t = 0; t < groups; t++) job.Run(t, 0);
            if (job.BadIndex) throw new ArgumentException("pooling argmax points outside the window's plane");
            var sum = new Span<float>(pp, size);
            for (int t = 1; t < groups; t++) Elementwise.AddInPlace(sum, new ReadOnlySpan<float>(pp + (long)t * size, size));
            if (transposed)
                for (int o = 0; o < outChannels; o++)
                    for (int r = 0; r < rows; r++) dw[o * rows + r] = pp[r * outChannels + o];
            else sum.CopyTo(new Span<float>(dw, size));
            if (dy == null) Elementwise.AddPlaneSums(pps, batch, db[..outChannels]);
        }
        if (dy != null) Elementwise.SumChannels(new ReadOnlySpan<float>(dy, batch * outChannels * g.ColCols), batch, g.ColCols, db[..outChannels]);
    }

    /// <summary>Set by tests to run every shape through im2col, the reference for the Winograd path.</summary>
    internal static bool WinogradAllowed = true;

    /// <summary>Set by tests to run first layers' forward through im2col, which the direct path must match bit for bit.</summary>
    internal static bool DirectAllowed = true;

    /// <summary>3×3 stride-1 layers with enough channels go through Winograd F(2×2, 3×3), the rest through im2col.</summary>
    private static bool UsesWinograd(in ConvGeometry g, int outChannels) => WinogradAllowed && WinogradConvolution.Applies(g, outChannels);

    [ThreadStatic] private static ForwardJob? _forward;
    [ThreadStatic] private static BackwardDataJob? _backwardData;
    [ThreadStatic] private static BackwardWeightsJob? _backwardWeights;

    /// <summary>y_n (O×OH·OW) = W (O×CKK) · cols_n (CKK×OH·OW); cols_n packed already unless it is the image itself.</summary>
    private static unsafe GemmProblem ForwardProduct(in ConvGeometry g, int outChannels, float* w, float* cols, float* y, float* packedW,
        bool colsPacked = false) =>
        new(outChannels, g.ColCols, g.ColRows, new GemmOperand(w, g.ColRows, false), new GemmOperand(cols, g.ColCols, false),
            y, g.ColCols, 0f, packedW, colsPacked ? cols : null);

    /// <summary>cols_n (CKK×OH·OW) = Wᵀ (CKK×O) · dy_n (O×OH·OW).</summary>
    private static unsafe GemmProblem DataProduct(in ConvGeometry g, int outChannels, float* w, float* dy, float* cols, float* packedW) =>
        new(g.ColRows, g.ColCols, outChannels, new GemmOperand(w, g.ColRows, true), new GemmOperand(dy, g.ColCols, false),
            cols, g.ColCols, 0f, packedW);

    /// <summary>One thread's columns for BackwardWeights: plain for dWᵀ = cols·dyᵀ (cols is op(A)), else packed as colsᵀ.</summary>
    private static int WeightsScratch(in ConvGeometry g, bool transposed) =>
        transposed ? g.ColRows * g.ColCols : Im2Col.PackedTransposedSize(g);

    private static bool IsPointwise(in ConvGeometry g) => g.KernelH == 1 && g.KernelW == 1 && g.Stride == 1 && g.Pad == 0;

    private static double Flops(in ConvGeometry g, int outChannels, int batch) =>
        2.0 * batch * outChannels * g.ColRows * g.ColCols;

    /// <summary>Fraction of the computed tiles that is real output for an m×n product.</summary>
    private static double TileUse(int m, int n) =>
        (double)m * n / ((m + GemmMicroKernels.MR - 1) / GemmMicroKernels.MR * GemmMicroKernels.MR
                         * (double)((n + GemmDriver.NR - 1) / GemmDriver.NR * GemmDriver.NR));

    /// <summary>Threads that may run image tasks at once (each needs its own column scratch).</summary>
    private static int ImageThreads(int batch) => KernelThreads.ThreadsFor(batch);

    /// <summary>Image tasks go to the workers unless the whole job is too small to be worth it.</summary>
    private static void RunImages(int batch, IParallelWork job, double flops)
    {
        // Too small to share, or fewer images than threads: loop here (the GEMMs may still thread).
        if (flops < GemmDriver.ParallelFlops || batch < KernelThreads.ThreadsFor(int.MaxValue))
            for (int n = 0; n < batch; n++) job.Run(n, 0);
        else KernelThreads.For(batch, job);
    }

    private static void Check(in ConvGeometry g, int outChannels, int batch, int imageFloats, int weightFloats,
        int outputFloats, string outputName)
    {
        if (outChannels < 1 || batch < 0 || g.Channels < 1 || g.KernelH < 1 || g.KernelW < 1 || g.Stride < 1 || g.Pad < 0
            || g.OutH < 1 || g.OutW < 1)
            throw new ArgumentException($"invalid convolution {g} with {outChannels} outputs and batch {batch}");
        if (imageFloats < (long)batch * g.ImageSize || weightFloats < (long)outChannels * g.ColRows
            || outputFloats < (long)batch * outChannels * g.ColCols)
            throw new ArgumentException($"convolution buffers too small for {g}, {outChannels} outputs, batch {batch} ({outputName})");
    }

    /// <summary>Per image: unfold into this thread's scratch, packed for the GEMM, then y_n = W·cols + bias.</summary>
    private sealed unsafe class ForwardJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _out;
        private float* _x, _w, _bias, _y, _scratch, _packedW;
        private bool _direct;

        public void Set(in ConvGeometry g, int outChannels, float* x, float* w, float* bias, float* y, float* scratch,
            float* packedW, bool direct)
        {
            _g = g; _out = outChannels; _x = x; _w = w; _bias = bias; _y = y; _scratch = scratch; _packedW = packedW; _direct = direct;
        }

        public void Run(int n, int thread)
        {
            int pixels = _g.ColCols;
            float* image = _x + (long)n * _g.ImageSize, cols = image;
            if (!_direct)
            {
                cols = _scratch + (long)thread * Im2Col.PackedSize(_g);
                Im2Col.UnfoldPacked(_g, image, cols);
            }
            float* y = _y + (long)n * _out * pixels;
            GemmDriver.Run(ForwardProduct(_g, _out, _w, cols, y, _packedW, colsPacked: !_direct));
            for (int o = 0; o < _out; o++) Elementwise.AddScalar(new Span<float>(y + (long)o * pixels, pixels), _bias[o]);
        }
    }

    /// <summary>Per image: cols = Wᵀ·dy_n into this thread's scratch, then fold into a cleared dx_n.</summary>
    private sealed unsafe class BackwardDataJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _out;
        private float* _dy, _w, _dx, _scratch, _packedW;
        private bool _direct;

        public void Set(in ConvGeometry g, int outChannels, float* dy, float* w, float* dx, float* scratch, float* packedW, bool direct)
        {
            _g = g; _out = outChannels; _dy = dy; _w = w; _dx = dx; _scratch = scratch; _packedW = packedW; _direct = direct;
        }

        public void Run(int n, int thread)
        {
            int rows = _g.ColRows, pixels = _g.ColCols;
            float* dx = _dx + (long)n * _g.ImageSize;
            float* cols = _direct ? dx : _scratch + (long)thread * rows * pixels;
            GemmDriver.Run(DataProduct(_g, _out, _w, _dy + (long)n * _out * pixels, cols, _packedW));
            if (_direct) return;
            new Span<float>(dx, _g.ImageSize).Clear();
            Im2Col.FoldDestroying(_g, cols, dx);
        }
    }

    /// <summary>
    /// One group of images: for each in order, unfold its columns and add dy_n·colsᵀ (or cols·dy_nᵀ,
    /// which is dWᵀ) into the group's partial; the group's first image overwrites it.
    /// </summary>
    private sealed unsafe class BackwardWeightsJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _out, _batch, _groups, _perThread, _bad;
        private float* _x, _dy, _planeSums, _partials, _scratch;
        private PooledGradient _pooled;
        private bool _direct, _transposed;

        /// <summary>Whether an unpooled winner lay outside its plane (the pooled path only).</summary>
        public bool BadIndex => _bad != 0;

        /// <summary>dy null: each image's dy is unpooled from <paramref name="pooled"/> into the end of the thread's scratch.</summary>
        public void Set(in ConvGeometry g, int outChannels, int batch, int groups, float* x, float* dy, in PooledGradient pooled,
            float* planeSums, float* partials, float* scratch, int perThread, bool direct, bool transposed)
        {
            _g = g; _out = outChannels; _batch = batch; _groups = groups; _x = x; _dy = dy; _pooled = pooled; _planeSums = planeSums;
            _partials = partials; _scratch = scratch; _perThread = perThread; _direct = direct; _transposed = transposed; _bad = 0;
        }

        public void Run(int group, int thread)
        {
            int rows = _g.ColRows, pixels = _g.ColCols;
            int n0 = (int)((long)_batch * group / _groups), n1 = (int)((long)_batch * (group + 1) / _groups);
            float* partial = _partials + (long)group * rows * _out;
            float* cols = _scratch + (long)thread * _perThread;
            float* unpooled = cols + (_direct ? 0 : WeightsScratch(_g, _transposed));
            // colsᵀ as the B of dy·colsᵀ is unfolded packed; cols as the A of cols·dyᵀ plainly.
            bool packed = !_direct && !_transposed;
            for (int n = n0; n < n1; n++)
            {
                float* image = _x + (long)n * _g.ImageSize;
                if (_direct) cols = image;
                else if (packed) Im2Col.UnfoldPackedTransposed(_g, image, cols);
                else Im2Col.Unfold(_g, image, cols, 0, rows);
                float* dy = _dy == null ? Unpool(n, unpooled) : _dy + (long)n * _out * pixels;
                float beta = n == n0 ? 0f : 1f;
                if (_transposed)
                    GemmDriver.RunBlock(new GemmProblem(rows, _out, pixels, new GemmOperand(cols, pixels, false),
                        new GemmOperand(dy, pixels, true), partial, _out, beta), 0, rows, 0, _out);
                else
                    GemmDriver.RunBlock(new GemmProblem(_out, rows, pixels, new GemmOperand(dy, pixels, false),
                        new GemmOperand(cols, pixels, true), partial, rows, beta, packedB: packed ? cols : null), 0, _out, 0, rows);
            }
        }

        /// <summary>Image n's dy (its planes n·O … n·O + O − 1 of the layer's output) into dy, and its plane sums.</summary>
        private float* Unpool(int n, float* dy)
        {
            int pixels = _g.ColCols;
            long first = (long)n * _out;
            // The winners index the whole batch: shift the base back so plane `first` lands at dy.
            if (!Pooling.MaxBackwardPlanes(_pooled.Pool, (int)first, (int)first + _out, _pooled.Gradient, _pooled.Argmax, dy - first * pixels))
                Interlocked.Exchange(ref _bad, 1);
            for (int o = 0; o < _out; o++) _planeSums[first + o] = Elementwise.Sum(new ReadOnlySpan<float>(dy + (long)o * pixels, pixels));
            return dy;
        }
    }
}
