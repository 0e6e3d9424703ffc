namespace Mnist.Core.Kernels;

/// <summary>
/// 2-D convolution of a batch of NCHW images with weights laid out [outChannels, C, KH, KW]:
/// y[n, o, oy, ox] = bias[o] + Σ_{c,ky,kx} w[o, c, ky, kx] · x[n, c, oy·s − p + ky, ox·s − p + kx].
/// Every method overwrites its outputs. BackwardWeights is called with the same x as the
/// Forward just before it, so an implementation may reuse what Forward left in the workspace.
/// </summary>
/// <remarks>
/// im2col + GEMM. Forward unfolds each image into workspace slot 0 (kept for BackwardWeights: the
/// columns are reused when the geometry, batch and address of x match Forward's, so a Forward on the
/// same buffer with other contents in between must be followed by a new Forward) and multiplies
/// W (O×CKK) by it straight into y. BackwardData multiplies Wᵀ by each image's dy into a per-thread
/// column scratch and folds it into dx. Both thread over images. BackwardWeights is one GEMM whose
/// K runs over every pixel of every image (dy and the columns are read in place, image by image),
/// threaded over the weight matrix, so its sums never depend on the thread count.
/// A 1×1, stride-1, unpadded convolution uses x itself as its column matrix.
/// </remarks>
public static class Convolution
{
    private const int ColumnsSlot = 0, ScratchSlot = 1, TransposeSlot = 2;

    public static unsafe void Forward(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Workspace ws)
    {
        Check(g, outChannels, batch, x.Length, w.Length, y.Length, "y");
        if (bias.Length < outChannels) throw new ArgumentException($"convolution bias has {bias.Length} floats, needs {outChannels}");
        ArgumentNullException.ThrowIfNull(ws);
        if (batch == 0) return;
        bool direct = IsPointwise(g);
        var cols = direct ? default : ws.Get(ColumnsSlot, batch * g.ColRows * g.ColCols);
        fixed (float* px = x, pw = w, pb = bias, py = y, pc = cols)
        {
            var job = _forward ??= new ForwardJob();
            job.Set(g, outChannels, px, pw, pb, py, direct ? px : pc, direct);
            Run(batch, job, (double)batch * outChannels * g.ColRows * g.ColCols * 2);
            ws.Columns = direct ? null : (g, batch, (nint)px);
        }
    }

    /// <summary>dx = gradient of the loss with respect to x, given dy.</summary>
    public static unsafe void BackwardData(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> w, Span<float> dx, Workspace ws)
    {
        Check(g, outChannels, batch, dx.Length, w.Length, dy.Length, "dy");
        ArgumentNullException.ThrowIfNull(ws);
        if (batch == 0) return;
        bool direct = IsPointwise(g);
        int threads = KernelThreads.ThreadsFor(batch);
        var scratch = direct ? default : ws.Get(ScratchSlot, threads * g.ColRows * g.ColCols);
        fixed (float* pdy = dy, pw = w, pdx = dx, ps = scratch)
        {
            var job = _backwardData ??= new BackwardDataJob();
            job.Set(g, outChannels, pdy, pw, pdx, ps, direct);
            Run(batch, job, (double)batch * outChannels * g.ColRows * g.ColCols * 2);
        }
    }

    /// <summary>dw and db = gradients of the loss with respect to the weights and bias, given x and dy.</summary>
    public static unsafe void BackwardWeights(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> dy, Span<float> dw, Span<float> db, Workspace ws)
    {
        Check(g, outChannels, batch, x.Length, dw.Length, dy.Length, "dy");
        if (db.Length < outChannels) throw new ArgumentException($"convolution bias gradient has {db.Length} floats, needs {outChannels}");
        ArgumentNullException.ThrowIfNull(ws);
        int rows = g.ColRows, pixels = g.ColCols;
        if (batch == 0)
        {
            dw[..(outChannels * rows)].Clear();
            db[..outChannels].Clear();
            return;
        }
        bool direct = IsPointwise(g);
        var cols = direct ? default : ws.Get(ColumnsSlot, batch * rows * pixels);
        // Wᵀ·... when the transposed product wastes less of the 6×16 tiles (conv1: 32×9 → 9×32).
        bool transposed = TileUse(rows, outChannels) > 1.1 * TileUse(outChannels, rows);
        var dwT = transposed ? ws.Get(TransposeSlot, rows * outChannels) : default;
        fixed (float* px = x, pdy = dy, pdw = dw, pc = cols, pt = dwT)
        {
            float* columns = direct ? px : pc;
            if (!direct && ws.Columns != (g, batch, (nint)px))
            {
                var unfold = _unfold ??= new UnfoldJob();
                unfold.Set(g, px, pc);
                Run(batch, unfold, (double)batch * rows * pixels);
                ws.Columns = (g, batch, (nint)px);
            }
            long colStride = (long)rows * pixels, dyStride = (long)outChannels * pixels;
            var dyRows = new GemmOperand(pdy, pixels, trans: false, dyStride);
            var colRows = new GemmOperand(columns, pixels, trans: false, colStride);
            var dyCols = new GemmOperand(pdy, pixels, trans: true, dyStride);
            var colCols = new GemmOperand(columns, pixels, trans: true, colStride);
            if (!transposed)
                GemmDriver.Run(new GemmProblem(outChannels, rows, pixels, batch, dyRows, colCols, pdw, rows, 0f));
            else
            {
                GemmDriver.Run(new GemmProblem(rows, outChannels, pixels, batch, colRows, dyCols, pt, outChannels, 0f));
                for (int o = 0; o < outChannels; o++)
                    for (int r = 0; r < rows; r++) pdw[o * rows + r] = pt[r * outChannels + o];
            }
        }
        Elementwise.SumChannels(dy, batch, pixels, db[..outChannels]);
    }

    [ThreadStatic] private static ForwardJob? _forward;
    [ThreadStatic] private static BackwardDataJob? _backwardData;
    [ThreadStatic] private static UnfoldJob? _unfold;

    private static bool IsPointwise(in ConvGeometry g) => g.KernelH == 1 && g.KernelW == 1 && g.Stride == 1 && g.Pad == 0;

    /// <summary>Fraction of the computed 6×16 tiles that is real output for an m×n product.</summary>
    private static double TileUse(int m, int n) =>
        (double)m * n / ((m + GemmMicroKernels.MR - 1) / GemmMicroKernels.MR * GemmMicroKernels.MR
                         * (double)((n + GemmDriver.NR - 1) / GemmDriver.NR * GemmDriver.NR));

    /// <summary>Image tasks go to the workers unless the whole job is too small to be worth it.</summary>
    private static void Run(int batch, IParallelWork job, double flops)
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

    /// <summary>Per image: unfold, then y_n = W·cols_n + bias.</summary>
    private sealed unsafe class ForwardJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _out;
        private float* _x, _w, _bias, _y, _cols;
        private bool _direct;

        public void Set(in ConvGeometry g, int outChannels, float* x, float* w, float* bias, float* y, float* cols, bool direct)
        {
            _g = g; _out = outChannels; _x = x; _w = w; _bias = bias; _y = y; _cols = cols; _direct = direct;
        }

        public void Run(int n, int thread)
        {
            int rows = _g.ColRows, pixels = _g.ColCols;
            float* cols = _cols + (long)n * (_direct ? _g.ImageSize : rows * pixels);
            if (!_direct) Im2Col.Unfold(_g, _x + (long)n * _g.ImageSize, cols);
            float* y = _y + (long)n * _out * pixels;
            GemmDriver.Run(new GemmProblem(_out, pixels, rows, 1,
                new GemmOperand(_w, rows, false), new GemmOperand(cols, pixels, false), y, pixels, 0f));
            for (int o = 0; o < _out; o++) Elementwise.AddScalar(new Span<float>(y + (long)o * pixels, pixels), _bias[o]);
        }
    }

    /// <summary>Per image: cols = Wᵀ·dy_n into this thread's scratch, then fold into a cleared dx_n.</summary>
    private sealed unsafe class BackwardDataJob : IParallelWork
    {
        private ConvGeometry _g;
        private int _out;
        private float* _dy, _w, _dx, _scratch;
        private bool _direct;

        public void Set(in ConvGeometry g, int outChannels, float* dy, float* w, float* dx, float* scratch, bool direct)
        {
            _g = g; _out = outChannels; _dy = dy; _w = w; _dx = dx; _scratch = scratch; _direct = direct;
        }

        public void Run(int n, int thread)
        {
            int rows = _g.ColRows, pixels = _g.ColCols;
            float* dx = _dx + (long)n * _g.ImageSize;
            float* cols = _direct ? dx : _scratch + (long)thread * rows * pixels;
            GemmDriver.Run(new GemmProblem(rows, pixels, _out, 1,
                new GemmOperand(_w, rows, true), new GemmOperand(_dy + (long)n * _out * pixels, pixels, false), cols, pixels, 0f));
            if (_direct) return;
            new Span<float>(dx, _g.ImageSize).Clear();
            Im2Col.FoldDestroying(_g, cols, dx);
        }
    }

    /// <summary>Per image: unfold into the column cache (when BackwardWeights finds no columns from Forward).</summary>
    private sealed unsafe class UnfoldJob : IParallelWork
    {
        private ConvGeometry _g;
        private float* _x, _cols;

        public void Set(in ConvGeometry g, float* x, float* cols)
        {
            _g = g; _x = x; _cols = cols;
        }

        public void Run(int n, int thread) =>
            Im2Col.Unfold(_g, _x + (long)n * _g.ImageSize, _cols + (long)n * _g.ColRows * _g.ColCols);
    }
}
