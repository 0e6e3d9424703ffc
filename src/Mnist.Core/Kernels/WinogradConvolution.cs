using TileGrid = Mnist.Core.Kernels.WinogradBlocks.TileGrid;

namespace Mnist.Core.Kernels;

/// <summary>
/// 3×3, stride-1 convolutions by Winograd's F(2×2, 3×3) (<see cref="WinogradTransforms"/>): each
/// 2×2 output tile costs 16 multiply-adds per input channel instead of 36, so the products are
/// 16 GEMMs of (outChannels × channels) · (channels × tiles), 4/9 of im2col's arithmetic.
/// </summary>
/// <remarks>
/// The tiles of the whole batch are numbered image by image, row by row, and cut into blocks of
/// <see cref="Block"/> tiles; a block's transformed inputs (16 × C × tiles) and products
/// (16 × O × tiles) stay in the core's cache, and blocks run on the kernel threads. BackwardData is
/// the forward convolution of dy with the kernels flipped and transposed (padding 2 − p).
/// BackwardWeights sums dU over up to eight fixed groups of images, then group by group, as
/// <see cref="Convolution"/> does, so no result depends on the thread count. Accuracy against a
/// float64 reference, on the shapes the kernel tests hold (error / (1 + |exact|)): forward 0.5–1.5×
/// im2col's error, backward weights 0.7–2.2×, backward data 1.5–3.4× (worst 1.1e-6 against
/// 3.2e-7, 8 channels); the tests hold every pass to 4× im2col's, or 2e-6 where both are tiny.
/// </remarks>
internal static unsafe class WinogradConvolution
{
    /// <summary>Tiles per block: 16 GEMM columns per AVX2 panel, two AVX-512 panels.</summary>
    private const int Block = 64;

    /// <summary>Most image groups BackwardWeights sums separately, as in <see cref="Convolution"/>.</summary>
    private const int WeightGroups = 8;

    private const int PackedSlot = 3, ScratchSlot = 4, KernelSlot = 5, PaddedSlot = 6;

    /// <summary>
    /// Whether the forward and backward-data passes of this shape run here: 3×3, stride 1, 8 or
    /// more channels on either side. Measured against im2col (Zen 3, one thread, batch 64, 28×28,
    /// ms): 8→8 forward 2.3 against 3.0, data 2.1 against 2.4; 16→16 5.7 against 7.7, 5.2 against 6.9.
    /// With fewer channels the 16 GEMMs get thinner still (a first layer's would have k = 1).
    /// </summary>
    public static bool Applies(in ConvGeometry g, int outChannels) =>
        g.KernelH == 3 && g.KernelW == 3 && g.Stride == 1 && g.Pad <= 2 && g.Channels >= 8 && outChannels >= 8;

    /// <summary>
    /// Whether the weight gradient runs here too: 16 or more channels on either side. Its 16 GEMMs
    /// are outChannels × channels, which wastes most of a tile below that: 8→8 measured 5.8 ms
    /// against im2col's 2.9, 16→16 6.3 against 6.9, 64→64 at 7×7 3.5 against 5.6.
    /// </summary>
    public static bool AppliesToWeights(in ConvGeometry g, int outChannels) =>
        Applies(g, outChannels) && g.Channels >= 16 && outChannels >= 16;

    public static void Forward(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias, float* y, Workspace ws) =>
        Forward(g, outChannels, batch, x, w, bias, new Destination(y), ws);

    /// <summary>
    /// Forward followed by 2×2 stride-2 max pooling of its output (<paramref name="pool"/>), pooled as
    /// each block's products are transformed (<see cref="WinogradBlocks.OutputsPooled"/>): the
    /// output itself is never written; argmax indexes it as MaxPoolForward's would.
    /// </summary>
    public static void ForwardPooled(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias,
        in PoolGeometry pool, float* pooled, int* argmax, Workspace ws) =>
        Forward(g, outChannels, batch, x, w, bias, new Destination(null, pool, pooled, argmax), ws);

    /// <summary>Where a forward pass puts its result: y, or (y null) the pooled output and its winners.</summary>
    private readonly struct Destination(float* y, PoolGeometry pool = default, float* pooled = null, int* argmax = null)
    {
        public readonly float* Y = y, Pooled = pooled;
        public readonly PoolGeometry Pool = pool;
        public readonly int* Argmax = argmax;
    }

    private static void Forward(in ConvGeometry g, int outChannels, int batch, float* x, float* w, float* bias, in Destination to, Workspace ws)
    {
        var packed = ws.Get(PackedSlot, 16 * PackedKernelSize(outChannels, g.Channels));
        var kernel = ws.Get(KernelSlot, 16 * outChannels * g.Channels);
        fixed (float* pk = kernel, pp = packed)
        {
            TransformKernels(outChannels, g.Channels, w, pk, flipped: false);
            Pack(outChannels, g.Channels, pk, pp);
            Run(g, outChannels, batch, x, pp, bias, to, ws);
        }
    }

    /// <summary>dx = the convolution of dy (O channels, OH×OW, padding 2 − p) with the kernels turned 180° and transposed to C×O.</summary>
    public static void BackwardData(in ConvGeometry g, int outChannels, int batch, float* dy, float* w, float* dx, Workspace ws)
    {
        var transposed = new ConvGeometry(outChannels, g.OutH, g.OutW, 3, 3, 1, 2 - g.Pad);
        var packed = ws.Get(PackedSlot, 16 * PackedKernelSize(g.Channels, outChannels));
        var kernel = ws.Get(KernelSlot, 16 * outChannels * g.Channels);
        fixed (float* pk = kernel, pp = packed)
        {
            TransformKernels(outChannels, g.Channels, w, pk, flipped: true);
            Pack(g.Channels, outChannels, pk, pp);
            Run(transposed, g.Channels, batch, dy, pp, null, new Destination(dx), ws);
        }
    }

    /// <summary>dw = Gᵀ (Σ over tiles of (A dY Aᵀ) ⊙ (Bᵀ d B)) G; the bias gradient is the caller's.</summary>
    public static void BackwardWeights(in ConvGeometry g, int outChannels, int batch, float* x, float* dy, float* dw, Workspace ws)
    {
        var tiles = new TileGrid(g);
        int groups = Math.Min(batch, WeightGroups), size = 16 * outChannels * g.Channels;
        bool parallel = Flops(tiles, g.Channels, outChannels, batch) >= GemmDriver.ParallelFlops;
        int threads = parallel ? KernelThreads.ThreadsFor(groups) : 1;
        var scratch = ws.Get(ScratchSlot, threads * ScratchSize(g.Channels, outChannels));
        var partials = ws.Get(KernelSlot, groups * size);
        var padded = ws.Get(PaddedSlot, batch * WinogradBlocks.Padded(g).ImageSize);
        fixed (float* ps = scratch, pp = partials, pd = padded)
        {
            WinogradBlocks.Pad(g, batch, x, pd);
            var job = _weights ??= new WeightsJob();
            job.Set(g, tiles, outChannels, batch, groups, pd, dy, pp, ps);
            if (parallel && threads > 1) KernelThreads.For(groups, job);
            else for (int t = 0; t < groups; t++) job.Run(t, 0);
            var gradient = _gradient ??= new GradientJob();
            gradient.Set(outChannels, g.Channels, groups, pp, dw);
            // Serial, the sums and transforms kept the other core idle for ~1% of a classic epoch (perf, Zen 5).
            if (KernelThreads.ThreadsFor(outChannels) > 1 && size >= KernelJob.ParallelFloats) KernelThreads.For(outChannels, gradient);
            else for (int o = 0; o < outChannels; o++) gradient.Run(o, 0);
        }
    }

    [ThreadStatic] private static GradientJob? _gradient;

    /// <summary>
    /// Output channel o's weight gradients: its rows of the groups' partial dU summed into group 0's
    /// (group by group, as a whole-array sum would), then dw[o, c] = Gᵀ dU[o, c] G for every c.
    /// </summary>
    private sealed class GradientJob : IParallelWork
    {
        private int _out, _channels, _groups;
        private float* _partials, _dw;

        public void Set(int outChannels, int channels, int groups, float* partials, float* dw)
        {
            _out = outChannels; _channels = channels; _groups = groups; _partials = partials; _dw = dw;
        }

        public void Run(int o, int thread)
        {
            // dU is stored [ξ][o][c]: element (o, c) of every ξ is o·C + c apart by K·C.
            long plane = (long)_out * _channels, size = 16 * plane;
            for (int xi = 0; xi < 16; xi++)
            {
                var sum = new Span<float>(_partials + xi * plane + (long)o * _channels, _channels);
                for (int t = 1; t < _groups; t++) Elementwise.AddInPlace(sum, new ReadOnlySpan<float>(_partials + t * size + xi * plane + (long)o * _channels, _channels));
            }
            for (int c = 0; c < _channels; c++)
                WinogradTransforms.KernelGradient(_partials + (long)o * _channels + c, plane, _dw + ((long)o * _channels + c) * 9);
        }
    }

    [ThreadStatic] private static ForwardJob? _forward;
    [ThreadStatic] private static WeightsJob? _weights;

    private static double Flops(in TileGrid tiles, int channels, int outChannels, int batch) =>
        2.0 * 16 * channels * outChannels * tiles.PerImage * batch;

    private static int PackedKernelSize(int rows, int k) => GemmDriver.PackedASize(rows, k);

    /// <summary>One thread's transformed inputs, products (or output gradients) and tile map for a block.</summary>
    private static int ScratchSize(int channels, int outChannels) =>
        (int)(16 * (Plane(channels) + Plane(outChannels))) + WinogradBlocks.TileMap.Ints(Block);

    /// <summary>
    /// Floats from one ξ's rows × Block matrix to the next: room for it packed either way (rows
    /// rounded up to the widest tile, 32) and for the 64 floats a packed GEMM operand may hold past
    /// its end. The skew keeps the 16 planes off one cache set: a multiple of 4 KB alone puts a
    /// tile's 16 values, one per plane, all in one L1 set (8 ways), which measured 2× slower transforms.
    /// </summary>
    private static long Plane(int rows) => (long)(rows + 31) / 32 * 32 * Block + 96;

    /// <summary>The tile map at the end of a thread's scratch (ints in float storage: only this class reads them).</summary>
    private static WinogradBlocks.TileMap MapIn(float* scratch, int channels, int outChannels) =>
        WinogradBlocks.TileMap.At((int*)(scratch + 16 * (Plane(channels) + Plane(outChannels))), Block);

    /// <summary>
    /// U[ξ][o][c] = G w[o, c] Gᵀ; flipped: U[ξ][c][o] from w[o, c] turned 180°, the kernels of BackwardData.
    /// </summary>
    private static void TransformKernels(int outChannels, int channels, float* w, float* u, bool flipped)
    {
        var job = _kernels ??= new KernelJob();
        job.Set(outChannels, channels, w, u, flipped);
        // Serial, the transforms kept the other core idle for ~2% of a classic epoch (perf, Zen 5).
        if (KernelThreads.ThreadsFor(outChannels) > 1 && 16L * outChannels * channels >= KernelJob.ParallelFloats)
            KernelThreads.For(outChannels, job);
        else
            for (int o = 0; o < outChannels; o++) job.Run(o, 0);
    }

    [ThreadStatic] private static KernelJob? _kernels;

    /// <summary>The transforms of output channel o's kernels: each task writes its own o's values only.</summary>
    private sealed class KernelJob : IParallelWork
    {
        /// <summary>Transformed floats below which the kernels are transformed on one thread.</summary>
        public const long ParallelFloats = 1 << 14;

        private int _out, _channels;
        private float* _w, _u;
        private bool _flipped;

        public void Set(int outChannels, int channels, float* w, float* u, bool flipped)
        {
            _out = outChannels; _channels = channels; _w = w; _u = u; _flipped = flipped;
        }

        public void Run(int o, int thread)
        {
            long plane = (long)_out * _channels;
            float* turned = stackalloc float[9];
            for (int c = 0; c < _channels; c++)
            {
                float* k = _w + ((long)o * _channels + c) * 9;
                if (!_flipped)
                {
                    WinogradTransforms.Kernel(k, _u + (long)o * _channels + c, plane);
                    continue;
                }
                for (int i = 0; i < 9; i++) turned[i] = k[8 - i];
                WinogradTransforms.Kernel(turned, _u + (long)c * _out + o, plane);
            }
        }
    }

    /// <summary>Packs the 16 rows × k matrices U[ξ] as GEMM A operands, PackedKernelSize apart.</summary>
    private static void Pack(int rows, int k, float* u, float* packed)
    {
        for (int xi = 0; xi < 16; xi++)
            GemmDriver.PackWholeA(new GemmProblem(rows, 0, k, new GemmOperand(u + (long)xi * rows * k, k, false), default, null, 0, 0f),
                packed + (long)xi * PackedKernelSize(rows, k));
    }

    private static void Run(in ConvGeometry g, int outChannels, int batch, float* x, float* packed, float* bias, in Destination to, Workspace ws)
    {
        var tiles = new TileGrid(g);
        int blocks = (int)(((long)tiles.PerImage * batch + Block - 1) / Block);
        bool parallel = Flops(tiles, g.Channels, outChannels, batch) >= GemmDriver.ParallelFlops;
        int threads = parallel ? KernelThreads.ThreadsFor(blocks) : 1;
        var scratch = ws.Get(ScratchSlot, threads * ScratchSize(g.Channels, outChannels));
        var padded = ws.Get(PaddedSlot, batch * WinogradBlocks.Padded(g).ImageSize);
        fixed (float* ps = scratch, pd = padded)
        {
            WinogradBlocks.Pad(g, batch, x, pd);
            var job = _forward ??= new ForwardJob();
            job.Set(g, tiles, outChannels, batch, pd, packed, bias, to, ps);
            if (parallel && threads > 1) KernelThreads.For(blocks, job);
            else for (int b = 0; b < blocks; b++) job.Run(b, 0);
        }
    }

    /// <summary>Per block of tiles: transform the inputs, 16 GEMMs M[ξ] = U[ξ]·V[ξ], transform the products into y.</summary>
    private sealed class ForwardJob : IParallelWork
    {
        private ConvGeometry _g;
        private TileGrid _tiles;
        private int _out, _batch;
        private float* _padded, _packed, _bias, _scratch;
        private Destination _to;

        public void Set(in ConvGeometry g, in TileGrid tiles, int outChannels, int batch, float* padded, float* packed, float* bias,
            in Destination to, float* scratch)
        {
            _g = g; _tiles = tiles; _out = outChannels; _batch = batch; _padded = padded; _packed = packed; _bias = bias; _to = to; _scratch = scratch;
        }

        public void Run(int block, int thread)
        {
            int channels = _g.Channels, total = _tiles.PerImage * _batch;
            int tile0 = block * Block, count = Math.Min(Block, total - tile0);
            float* v = _scratch + (long)thread * ScratchSize(channels, _out);
            float* m = v + 16 * Plane(channels);
            var map = MapIn(v, channels, _out);
            WinogradBlocks.Map(_g, _out, tile0, count, map);
            // V goes straight into the GEMMs' packed-B layout, so they pack nothing.
            WinogradBlocks.Inputs(WinogradBlocks.Padded(_g), _padded, map, count, v, Plane(channels));
            int packedSize = PackedKernelSize(_out, channels);
            for (int xi = 0; xi < 16; xi++)
                GemmDriver.RunBlock(new GemmProblem(_out, count, channels, default, default, m + xi * Plane(_out), Block, 0f,
                        packedA: _packed + (long)xi * packedSize, packedB: v + xi * Plane(channels)), 0, _out, 0, count);
            if (_to.Y != null) WinogradBlocks.Outputs(_g, _out, m, Block, Plane(_out), _bias, map, count, _to.Y);
            else WinogradBlocks.OutputsPooled(_g, _out, m, Block, Plane(_out), _bias, map, count, _to.Pool, _to.Pooled, _to.Argmax);
        }
    }

    /// <summary>
    /// One group of images, block by block of its tiles: transform the inputs and the output
    /// gradients, then add dU[ξ] += Z[ξ]·V[ξ]ᵀ into the group's partial (its first block overwrites it).
    /// </summary>
    private sealed class WeightsJob : IParallelWork
    {
        private ConvGeometry _g;
        private TileGrid _tiles;
        private int _out, _batch, _groups;
        private float* _padded, _dy, _partials, _scratch;

        public void Set(in ConvGeometry g, in TileGrid tiles, int outChannels, int batch, int groups, float* padded, float* dy,
            float* partials, float* scratch)
        {
            _g = g; _tiles = tiles; _out = outChannels; _batch = batch; _groups = groups; _padded = padded; _dy = dy;
            _partials = partials; _scratch = scratch;
        }

        public void Run(int group, int thread)
        {
            int channels = _g.Channels;
            int n0 = (int)((long)_batch * group / _groups), n1 = (int)((long)_batch * (group + 1) / _groups);
            float* partial = _partials + (long)group * 16 * _out * channels;
            float* v = _scratch + (long)thread * ScratchSize(channels, _out);
            float* z = v + 16 * Plane(channels);
            var map = MapIn(v, channels, _out);
            int first = n0 * _tiles.PerImage, end = n1 * _tiles.PerImage;
            for (int tile0 = first; tile0 < end; tile0 += Block)
            {
                int count = Math.Min(Block, end - tile0);
                WinogradBlocks.Map(_g, _out, tile0, count, map);
                WinogradBlocks.InputsTransposed(WinogradBlocks.Padded(_g), _padded, map, count, v, Plane(channels));
                WinogradBlocks.Gradients(_g, _out, _dy, map, count, z, Block, Plane(_out));
                float beta = tile0 == first ? 0f : 1f;
                for (int xi = 0; xi < 16; xi++)
                    GemmDriver.RunBlock(new GemmProblem(_out, channels, count, new GemmOperand(z + xi * Plane(_out), Block, false),
                        default, partial + (long)xi * _out * channels, channels, beta, packedB: v + xi * Plane(channels)), 0, _out, 0, channels);
            }
        }
    }
}
