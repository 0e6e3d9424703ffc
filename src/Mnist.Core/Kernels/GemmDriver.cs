using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// The blocked GEMM loops (Goto/BLIS order): for each NC-wide column block and KC-deep slice of K,
/// pack that B slice; for each MC-tall row block pack the A slice; then run the MR×NR micro-kernel
/// over the tiles. Threads split C into rectangles over M and N only, never over K, and the K slices
/// depend on K alone, so every element is computed identically whatever the thread count.
/// </summary>
internal static unsafe class GemmDriver
{
    private const int MR = GemmMicroKernels.MR, MaxNR = GemmMicroKernels.WideNR;
    // KC 320 keeps conv2's K = 288 in one slice; 128–320 measured alike on the classic shapes (AVX-512, Zen 5).
    private const int KC = 320, MC = 144, NC = 2048;

    /// <summary>Below this many flops the dispatch to another thread costs more than it saves.</summary>
    internal static double ParallelFlops = 2e6;

    /// <summary>Set by tests to run a narrower tile than the machine's best (never a wider one).</summary>
    internal static GemmPath Forced
    {
        get => _forced;
        set
        {
            _forced = value;
            _path = Resolve(value);
        }
    }

    private static GemmPath _forced = GemmPath.Auto;
    // Resolved once per setting: the packing and Winograd code ask for it per row (1% of a resnet epoch when recomputed).
    private static GemmPath _path = Resolve(GemmPath.Auto);

    /// <summary>The tile this machine runs: AVX-512 where present, else AVX2+FMA, else portable.</summary>
    internal static GemmPath Path => _path;

    private static GemmPath Resolve(GemmPath forced)
    {
        bool avx512 = Avx512F.IsSupported, avx2 = Avx2.IsSupported && Fma.IsSupported;
        return forced switch
        {
            GemmPath.Portable => GemmPath.Portable,
            GemmPath.Avx2 when avx2 => GemmPath.Avx2,
            GemmPath.Auto or GemmPath.Avx512 when avx512 => GemmPath.Avx512,
            GemmPath.Auto or GemmPath.Avx512 when avx2 => GemmPath.Avx2,
            _ => GemmPath.Portable,
        };
    }

    /// <summary>Tile columns of the current path.</summary>
    internal static int NR => Path == GemmPath.Avx512 ? GemmMicroKernels.WideNR : GemmMicroKernels.NR;

    [ThreadStatic] private static float[]? _packA, _packB;
    [ThreadStatic] private static Job? _job;

    public static void Run(in GemmProblem p)
    {
        if (p.M == 0 || p.N == 0) return;
        if (p.K == 0)
        {
            ScaleC(p, 0, p.M, 0, p.N);
            return;
        }
        int threads = p.Flops < ParallelFlops ? 1 : KernelThreads.ThreadsFor(int.MaxValue);
        if (threads <= 1)
        {
            RunBlock(p, 0, p.M, 0, p.N);
            return;
        }
        var job = _job ??= new Job();
        job.Setup(p, threads);
        if (job.Tasks <= 1) RunBlock(p, 0, p.M, 0, p.N);
        else KernelThreads.For(job.Tasks, job);
    }

    /// <summary>Computes rows [m0, m1) × columns [n0, n1) of C on the calling thread.</summary>
    public static void RunBlock(in GemmProblem p, int m0, int m1, int n0, int n1)
    {
        ScaleC(p, m0, m1, n0, n1);
        var path = Path;
        int nr = path == GemmPath.Avx512 ? GemmMicroKernels.WideNR : GemmMicroKernels.NR;
        int kBlocks = KSlices(p.K);
        int mcMax = Math.Min(MC, RoundUp(m1 - m0, MR));
        int ncMax = Math.Min(NC, RoundUp(n1 - n0, nr));
        int kcMax = (p.K + kBlocks - 1) / kBlocks;
        float* packA = p.PackedA != null ? null : Buffer(ref _packA, mcMax * kcMax);
        float* packB = p.PackedB != null ? null : Buffer(ref _packB, ncMax * kcMax);
        float* edge = stackalloc float[MR * MaxNR];
        for (int jc = n0; jc < n1; jc += NC)
        {
            int nc = Math.Min(NC, n1 - jc);
            for (int kb = 0; kb < kBlocks; kb++)
            {
                var (k0, kc) = KSlice(p.K, kb, kBlocks);
                bool accumulate = kb > 0 || p.Beta != 0f;
                float* blockB = packB;
                if (p.PackedB == null) GemmPacking.PackB(p, k0, kc, jc, nc, nr, packB);
                // A pre-packed B: this slice's panels start at RoundUp(N, nr)·k0; jc is a whole number of panels.
                else blockB = p.PackedB + (long)RoundUp(p.N, nr) * k0 + (long)(jc / nr) * kc * nr;
                for (int ic = m0; ic < m1; ic += MC)
                {
                    int mc = Math.Min(MC, m1 - ic);
                    float* blockA = packA;
                    if (p.PackedA != null) blockA = p.PackedA + (long)RoundUp(p.M, MR) * k0 + (long)(ic / MR) * kc * MR;
                    else GemmPacking.PackA(p, ic, mc, k0, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        float* bp = blockB + (long)(jr / nr) * kc * nr;
                        int w = Math.Min(nr, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            float* ap = blockA + (long)(ir / MR) * kc * MR;
                            float* c = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                            int h = Math.Min(MR, mc - ir);
                            if (h == MR && w == nr) Tile(path, kc, ap, bp, c, p.Ldc, accumulate);
                            else EdgeTile(path, nr, kc, ap, bp, c, p.Ldc, accumulate, h, w, edge);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Floats <see cref="PackWholeA"/> writes for an m×k op(A).</summary>
    public static int PackedASize(int m, int k) => RoundUp(m, MR) * k + 64;

    /// <summary>
    /// Packs all of op(A), slice after slice (slice kb at RoundUp(M, MR)·k0), for problems that set
    /// <see cref="GemmProblem.PackedA"/>. Row blocks must then start on multiples of MR, as all do here.
    /// </summary>
    public static void PackWholeA(in GemmProblem p, float* dst)
    {
        int slices = KSlices(p.K);
        for (int kb = 0; kb < slices; kb++)
        {
            var (k0, kc) = KSlice(p.K, kb, slices);
            GemmPacking.PackA(p, 0, p.M, k0, kc, dst + (long)RoundUp(p.M, MR) * k0);
        }
    }

    /// <summary>Floats of a whole packed op(B), k×n, for <see cref="GemmProblem.PackedB"/>.</summary>
    public static int PackedBSize(int k, int n) => RoundUp(n, NR) * k + 64;

    /// <summary>
    /// Deals row <paramref name="row"/> of a k×n op(B) (n floats at src) into a whole packed B: NR
    /// columns to each panel of the row's k-slice, the last panel padded with zeros. The layout is the
    /// one <see cref="RunBlock"/> packs into, slice after slice (slice kb at RoundUp(n, NR)·k0).
    /// </summary>
    public static void PackBRow(float* src, int k, int n, int row, float* packed)
    {
        int nr = NR;
        var (k0, kc) = SliceOf(k, row);
        float* dst = packed + (long)RoundUp(n, nr) * k0 + (long)(row - k0) * nr;
        // Span copies, not GemmPacking.CopyRows: for one row of 32 floats a memmove measured faster.
        int j = 0;
        for (; j + nr <= n; j += nr, dst += (long)kc * nr) new ReadOnlySpan<float>(src + j, nr).CopyTo(new Span<float>(dst, nr));
        if (j == n) return;
        new ReadOnlySpan<float>(src + j, n - j).CopyTo(new Span<float>(dst, n - j));
        new Span<float>(dst + n - j, nr - (n - j)).Clear();
    }

    /// <summary>
    /// Where element (row, col) of a k×n op(B) lies in a whole packed B (the layout of
    /// <see cref="PackBRow"/>); the NR columns of a panel are consecutive, so col .. col + 7 are
    /// too when col is a multiple of 8.
    /// </summary>
    public static long PackedBIndex(int k, int n, int row, int col) => PackedBRow(k, n, row).At(col);

    /// <summary>Row <paramref name="row"/> of a k×n op(B) in a whole packed B (<see cref="PackedBIndex"/>), looked up once for all its columns.</summary>
    public static PackedRow PackedBRow(int k, int n, int row)
    {
        int nr = NR;
        var (k0, kc) = SliceOf(k, row);
        return new PackedRow((long)RoundUp(n, nr) * k0 + (long)(row - k0) * nr, (long)kc * nr, nr);
    }

    /// <summary>One row of a packed B: columns 0 .. NR − 1 from Start on, each next NR columns Panel floats further.</summary>
    public readonly struct PackedRow(long start, long panel, int nr)
    {
        public readonly long Start = start, Panel = panel;
        public readonly int Nr = nr;

        public long At(int col) => Start + col / Nr * Panel + col % Nr;
    }

    /// <summary>
    /// Packs columns [n0, n0 + count) of a k×n op(B) into a whole packed B (the layout of
    /// <see cref="PackBRow"/>), from their transposes: column n0 + j is the k floats at src + j·ld.
    /// n0 is a multiple of NR and count at most NR, so they fill one panel of every slice.
    /// </summary>
    public static void PackTransposedB(float* src, int ld, int k, int n, int n0, int count, float* packed)
    {
        int slices = KSlices(k), nr = NR;
        for (int kb = 0; kb < slices; kb++)
        {
            var (k0, kc) = KSlice(k, kb, slices);
            GemmPacking.GatherRows(src + k0, ld, kc, count, nr, packed + (long)RoundUp(n, nr) * k0 + (long)(n0 / nr) * kc * nr);
        }
    }

    /// <summary>
    /// K is cut into even KC-deep slices that depend on K alone (never on the thread split), which
    /// keeps threaded results bit-identical.
    /// </summary>
    private static int KSlices(int k) => (k + KC - 1) / KC;

    /// <summary>The k-slice that holds row <paramref name="row"/> of a k-deep operand.</summary>
    private static (int Start, int Length) SliceOf(int k, int row)
    {
        int slices = KSlices(k), kb = (int)((long)row * slices / k);
        var (k0, kc) = KSlice(k, kb, slices);
        while (row >= k0 + kc) (k0, kc) = KSlice(k, ++kb, slices);
        while (row < k0) (k0, kc) = KSlice(k, --kb, slices);
        return (k0, kc);
    }

    private static (int Start, int Length) KSlice(int k, int kb, int slices)
    {
        int k0 = (int)((long)k * kb / slices), k1 = (int)((long)k * (kb + 1) / slices);
        return (k0, k1 - k0);
    }

    private static void Tile(GemmPath path, int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        if (path == GemmPath.Avx512) GemmMicroKernels.Avx512(kc, a, b, c, ldc, accumulate);
        else if (path == GemmPath.Avx2) GemmMicroKernels.Avx2(kc, a, b, c, ldc, accumulate);
        else GemmMicroKernels.Portable(kc, a, b, c, ldc, accumulate);
    }

    /// <summary>
    /// A partial tile: the AVX tiles mask their loads and stores; the portable one goes through a
    /// full-size scratch tile. Either way it sees the same arithmetic as a full tile.
    /// </summary>
    private static void EdgeTile(GemmPath path, int nr, int kc, float* a, float* b, float* c, nint ldc, bool accumulate,
        int h, int w, float* edge)
    {
        if (path == GemmPath.Avx512)
        {
            GemmMicroKernels.Avx512Edge(kc, a, b, c, ldc, accumulate, h, w);
            return;
        }
        if (path == GemmPath.Avx2)
        {
            GemmMicroKernels.Avx2Edge(kc, a, b, c, ldc, accumulate, h, w);
            return;
        }
        if (accumulate)
            for (int r = 0; r < h; r++)
                for (int j = 0; j < w; j++) edge[r * nr + j] = c[r * ldc + j];
        Tile(path, kc, a, b, edge, nr, accumulate);
        for (int r = 0; r < h; r++)
            for (int j = 0; j < w; j++) c[r * ldc + j] = edge[r * nr + j];
    }

    /// <summary>Applies beta to a block of C before the products are added (0 clears it, 1 keeps it).</summary>
    private static void ScaleC(in GemmProblem p, int m0, int m1, int n0, int n1)
    {
        if (p.Beta == 1f || (p.Beta == 0f && p.K > 0)) return;
        for (int i = m0; i < m1; i++)
        {
            var row = new Span<float>(p.C + (long)i * p.Ldc + n0, n1 - n0);
            if (p.Beta == 0f) row.Clear();
            else Elementwise.Scale(row, p.Beta);
        }
    }

    private static float* Buffer(ref float[]? buffer, int length)
    {
        // Pinned so the pointer stays valid; grows to the largest block this thread has needed.
        length += 64;
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(length, pinned: true);
        return (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref buffer[0]);
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>A split of C into mParts × nParts rectangles, cut on tile boundaries.</summary>
    private sealed class Job : IParallelWork
    {
        private GemmProblem _p;
        private int _mParts, _nParts, _mPanels, _nPanels, _nr;

        public int Tasks => _mParts * _nParts;

        public void Setup(in GemmProblem p, int threads)
        {
            _p = p;
            _mPanels = (p.M + MR - 1) / MR;
            _nr = NR;
            _nPanels = (p.N + _nr - 1) / _nr;
            // Each row part packs all of its B columns and each column part all of its A rows:
            // pick the split that packs least, with at least one tile per part.
            double best = double.MaxValue;
            _mParts = _nParts = 1;
            for (int mp = 1; mp <= threads; mp++)
            {
                int np = threads / mp;
                if (mp > _mPanels || np > _nPanels || mp * np < Math.Min(threads, _mPanels * _nPanels)) continue;
                double cost = (double)np * p.M + (double)mp * p.N;
                if (cost < best) { best = cost; _mParts = mp; _nParts = np; }
            }
        }

        public void Run(int task, int thread)
        {
            int mi = task / _nParts, ni = task % _nParts;
            ref readonly var p = ref _p;
            int m0 = Math.Min(p.M, (int)((long)_mPanels * mi / _mParts) * MR);
            int m1 = Math.Min(p.M, (int)((long)_mPanels * (mi + 1) / _mParts) * MR);
            int n0 = Math.Min(p.N, (int)((long)_nPanels * ni / _nParts) * _nr);
            int n1 = Math.Min(p.N, (int)((long)_nPanels * (ni + 1) / _nParts) * _nr);
            if (m1 > m0 && n1 > n0) RunBlock(_p, m0, m1, n0, n1);
        }
    }
}
