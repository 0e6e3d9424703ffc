using ILGPU;
using ILGPU.Runtime;

namespace Mnist.Gpu.Kernels;

/// <summary>
/// What one GEMM launch computes: c = op(a)·op(b) + beta·c, row-major with row strides. With
/// <see cref="KChunk"/> &lt; K the launch is split along k: group slice z sums k in [z·KChunk,
/// (z+1)·KChunk) into its own M×N block of c, <see cref="SplitStride"/> floats apart (beta is then 0).
/// </summary>
internal readonly record struct GemmShape(int TransA, int TransB, int M, int N, int K, int Lda, int Ldb, int Ldc, float Beta,
    int KChunk, long SplitStride)
{
    public GemmShape(int transA, int transB, int m, int n, int k, int lda, int ldb, int ldc, float beta)
        : this(transA, transB, m, n, k, lda, ldb, ldc, beta, Math.Max(k, 1), 0) { }

    /// <summary>Group slices along k (one even for k = 0, which scales c by beta).</summary>
    public int Splits => Math.Max(1, (K + KChunk - 1) / KChunk);
}

/// <summary>
/// A tiled shared-memory SGEMM: each group of T×T threads computes a 4T×4T tile of c, stepping
/// through k 16 at a time; each step stages op(a)'s 4T×16 and op(b)'s 16×4T slices in shared
/// memory (read coalesced whichever way each is stored) and each thread accumulates a 4×4 block of
/// c in registers (rows ty + T·i, columns tx + T·j). T is the launch's group side (8 on a GPU, 2 on
/// the CPU accelerator, whose simulated threads are costly). Each element's sum over k runs in
/// order 0..k−1 in one thread, so the result is deterministic (it differs from the CPU's blocked
/// sum order in the last bits).
///
/// A product with few tiles and a long k (a convolution's weight gradient sums over every pixel of
/// the batch: 32×9 outputs, k = 50,176) would leave most multiprocessors idle while a handful of
/// groups walk k alone, so it is split along k (<see cref="SplitK"/>): the slices' partial products
/// land side by side and <see cref="SumSplits"/> adds them in slice order, still deterministic.
/// </summary>
internal static class GemmKernel
{
    public const int Depth = 16, PerThread = 4;
    /// <summary>Groups a launch should have before splitting stops paying; k slices never get shorter than MinChunk.</summary>
    private const int TargetGroups = 256, MinChunk = 256;

    public static KernelConfig Config(GemmShape s, int side)
    {
        int tile = PerThread * side;
        // The k slices sit side by side along x (a 3D grid misbehaved on ILGPU's CPU accelerator).
        return new(new Index2D((s.N + tile - 1) / tile * s.Splits, (s.M + tile - 1) / tile), new Index2D(side, side),
            SharedMemoryConfig.RequestDynamic<float>(2 * Depth * tile));
    }

    /// <summary>
    /// The k slice length for a product on groups of side <paramref name="side"/>: all of k when
    /// the tiles alone fill the device, else a multiple of Depth that gives about TargetGroups groups.
    /// </summary>
    public static int SplitK(int m, int n, int k, int side)
    {
        int tile = PerThread * side;
        long tiles = (long)((n + tile - 1) / tile) * ((m + tile - 1) / tile);
        int splits = (int)Math.Min((TargetGroups + tiles - 1) / tiles, k / MinChunk);
        if (splits <= 1) return Math.Max(k, 1);
        int chunk = (k + splits - 1) / splits;
        return (chunk + Depth - 1) / Depth * Depth;
    }

    public static void Run(GemmShape s, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int threads = Group.DimX, tile = PerThread * threads, loads = tile * Depth / (threads * threads);
        var shared = SharedMemory.GetDynamic<float>();
        var tileA = shared.SubView(0, Depth * tile); // [kk, row]
        var tileB = shared.SubView(Depth * tile, Depth * tile); // [kk, col]
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * threads + tx;
        int tilesX = (s.N + tile - 1) / tile, slice = Grid.IdxX / tilesX;
        int row0 = Grid.IdxY * tile, col0 = Grid.IdxX % tilesX * tile;
        int kBegin = slice * s.KChunk, kEnd = Math.Min(s.K, kBegin + s.KChunk);
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int k0 = kBegin; k0 < kEnd; k0 += Depth)
        {
            for (int l = 0; l < loads; l++)
            {
                int e = thread + l * threads * threads;
                // op(a)[i, kk]: walk along whichever index is contiguous in memory.
                int i = s.TransA != 0 ? e % tile : e / Depth, kk = s.TransA != 0 ? e / tile : e % Depth;
                int gi = row0 + i, gk = k0 + kk;
                tileA[kk * tile + i] = gi < s.M && gk < kEnd ? a[s.TransA != 0 ? (long)gk * s.Lda + gi : (long)gi * s.Lda + gk] : 0f;
                // op(b)[kk, j].
                int j = s.TransB != 0 ? e / Depth : e % tile, kb = s.TransB != 0 ? e % Depth : e / tile;
                int gj = col0 + j, gkb = k0 + kb;
                tileB[kb * tile + j] = gj < s.N && gkb < kEnd ? b[s.TransB != 0 ? (long)gj * s.Ldb + gkb : (long)gkb * s.Ldb + gj] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < Depth; kk++)
            {
                int ra = kk * tile + ty, rb = kk * tile + tx;
                float a0 = tileA[ra], a1 = tileA[ra + threads], a2 = tileA[ra + 2 * threads], a3 = tileA[ra + 3 * threads];
                float b0 = tileB[rb], b1 = tileB[rb + threads], b2 = tileB[rb + 2 * threads], b3 = tileB[rb + 3 * threads];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        int r = row0 + ty, col = col0 + tx;
        var block = c.SubView(slice * s.SplitStride);
        Store(s, block, r, col, threads, c00, c01, c02, c03);
        Store(s, block, r + threads, col, threads, c10, c11, c12, c13);
        Store(s, block, r + 2 * threads, col, threads, c20, c21, c22, c23);
        Store(s, block, r + 3 * threads, col, threads, c30, c31, c32, c33);
    }

    /// <summary>c[row, col] = Σ over slices, in order, of partial[slice, row, col] (+ beta·c).</summary>
    public static void SumSplits(Index1D index, int n, int splits, int ldc, float beta, ArrayView<float> partial,
        ArrayView<float> c)
    {
        int row = index / n, col = index % n;
        long stride = partial.Length / splits;
        float sum = 0f;
        for (int z = 0; z < splits; z++) sum += partial[z * stride + index];
        long at = (long)row * ldc + col;
        c[at] = beta == 0f ? sum : sum + beta * c[at];
    }

    private static void Store(GemmShape s, ArrayView<float> c, int row, int col, int step, float v0, float v1, float v2, float v3)
    {
        if (row >= s.M) return;
        Put(s, c, row, col, v0);
        Put(s, c, row, col + step, v1);
        Put(s, c, row, col + 2 * step, v2);
        Put(s, c, row, col + 3 * step, v3);
    }

    private static void Put(GemmShape s, ArrayView<float> c, int row, int col, float value)
    {
        if (col >= s.N) return;
        long at = (long)row * s.Ldc + col;
        // beta = 0 never reads c (it may hold garbage or NaN).
        c[at] = s.Beta == 0f ? value : value + s.Beta * c[at];
    }
}
