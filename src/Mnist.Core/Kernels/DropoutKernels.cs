using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Mnist.Core.Backends;

namespace Mnist.Core.Kernels;

/// <summary>
/// Inverted dropout's mask (element i kept, as 1/(1 − p), where Philox.ToUnit(word Counter + i of the
/// stream) ≥ p, else 0) and, fused with it, y = x ⊙ mask in the same pass. Each element's number
/// depends on its index only, so the pass is cut into chunks for the kernel threads freely.
/// </summary>
public static class DropoutKernels
{
    /// <summary>Fills <paramref name="mask"/>; when <paramref name="x"/> is not empty also y = x ⊙ mask.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> mask, float p, in RandomStream random, Span<float> y)
    {
        int n = mask.Length;
        int chunks = KernelThreads.ThreadsFor(Math.Max(1, n / ChunkElements));
        fixed (float* px = x, pm = mask, py = y)
        {
            if (chunks <= 1)
            {
                Range(px, pm, py, p, random, 0, n);
                return;
            }
            var job = _job ??= new ChunkJob();
            job.Set(px, pm, py, p, random, n, chunks);
            KernelThreads.For(chunks, job);
        }
    }

    /// <summary>Elements [i0, i1): scalar up to a block boundary, then eight Philox blocks at a time (AVX2), then scalar.</summary>
    private static unsafe void Range(float* x, float* mask, float* y, float p, RandomStream random, int i0, int i1)
    {
        int head = Math.Min(i1, i0 + (int)((4 - (random.Counter + (ulong)i0) % 4) % 4));
        ScalarRange(x, mask, y, p, random, i0, head);
        int i = head;
        if (Avx2.IsSupported)
            for (; i + 32 <= i1; i += 32) Avx2Blocks(x, mask, y, p, random, i);
        ScalarRange(x, mask, y, p, random, i, i1);
    }

    /// <summary>Elements [i0, i1) one at a time: one Philox block gives four consecutive numbers of the stream.</summary>
    private static unsafe void ScalarRange(float* x, float* mask, float* y, float p, RandomStream random, int i0, int i1)
    {
        float keep = 1f / (1f - p);
        ulong word = random.Counter + (ulong)i0;
        uint s0 = (uint)random.Stream, s1 = (uint)(random.Stream >> 32), k0 = (uint)random.Seed, k1 = (uint)(random.Seed >> 32);
        for (int i = i0; i < i1;)
        {
            ulong block = word >> 2;
            var bits = Philox.Block((uint)block, (uint)(block >> 32), s0, s1, k0, k1);
            for (int lane = (int)(word & 3); lane < 4 && i < i1; lane++, i++, word++)
            {
                float m = Philox.ToUnit(bits[lane]) >= p ? keep : 0f;
                mask[i] = m;
                if (x != null) y[i] = x[i] * m;
            }
        }
    }

    /// <summary>
    /// Elements [i, i + 32), whose first number starts a Philox block: the eight blocks' rounds run
    /// side by side in AVX2 lanes (the same integer arithmetic as <see cref="Philox.Block"/>).
    /// </summary>
    private static unsafe void Avx2Blocks(float* x, float* mask, float* y, float p, RandomStream random, int i)
    {
        ulong first = (random.Counter + (ulong)i) >> 2;
        var lanes = Vector256.Create(0ul, 1, 2, 3);
        Vector256<ulong> lowBlocks = Vector256.Create(first) + lanes, highBlocks = lowBlocks + Vector256.Create(4ul);
        // Counter words 0 and 1 of each block: the low and high halves of its 64-bit index.
        var c0 = Vector256.Narrow(lowBlocks & Vector256.Create(0xFFFFFFFFul), highBlocks & Vector256.Create(0xFFFFFFFFul));
        var c1 = Vector256.Narrow(lowBlocks >>> 32, highBlocks >>> 32);
        var c2 = Vector256.Create((uint)random.Stream);
        var c3 = Vector256.Create((uint)(random.Stream >> 32));
        uint k0 = (uint)random.Seed, k1 = (uint)(random.Seed >> 32);
        var m0 = Vector256.Create(0xD2511F53u);
        var m1 = Vector256.Create(0xCD9E8D57u);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += 0x9E3779B9;
                k1 += 0xBB67AE85;
            }
            var hi0 = MultiplyHigh(c0, m0);
            var lo0 = c0 * m0;
            var hi1 = MultiplyHigh(c2, m1);
            var lo1 = c2 * m1;
            c0 = hi1 ^ c1 ^ Vector256.Create(k0);
            c1 = lo1;
            c2 = hi0 ^ c3 ^ Vector256.Create(k1);
            c3 = lo0;
        }
        // Word w of block j is number 4j + w: transpose the 8×4 words into element order.
        uint* words = stackalloc uint[32];
        Store4(words, c0, c1, c2, c3);
        float keep = 1f / (1f - p);
        var threshold = Vector256.Create(p);
        var scale = Vector256.Create(1f / 16777216f);
        for (int j = 0; j < 32; j += 8)
        {
            var unit = Vector256.ConvertToSingle(Vector256.Load(words + j) >>> 8) * scale;
            var m = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(unit, threshold), Vector256.Create(keep), Vector256<float>.Zero);
            m.Store(mask + i + j);
            if (x != null) (Vector256.Load(x + i + j) * m).Store(y + i + j);
        }
    }

    /// <summary>The high 32 bits of each lane's 32×32-bit product.</summary>
    private static Vector256<uint> MultiplyHigh(Vector256<uint> a, Vector256<uint> b)
    {
        var even = Avx2.Multiply(a, b).AsUInt32();                                             // lanes 2j hold a[2j]·b[2j]
        var odd = Avx2.Multiply((a.AsUInt64() >>> 32).AsUInt32(), (b.AsUInt64() >>> 32).AsUInt32()).AsUInt32();
        return Avx2.Blend((even.AsUInt64() >>> 32).AsUInt32(), odd, 0b10101010);
    }

    private static unsafe void Store4(uint* words, Vector256<uint> c0, Vector256<uint> c1, Vector256<uint> c2, Vector256<uint> c3)
    {
        for (int j = 0; j < 8; j++)
        {
            words[4 * j] = c0.GetElement(j);
            words[4 * j + 1] = c1.GetElement(j);
            words[4 * j + 2] = c2.GetElement(j);
            words[4 * j + 3] = c3.GetElement(j);
        }
    }

    /// <summary>Below this many elements per chunk a second thread costs more than it saves.</summary>
    private const int ChunkElements = 1 << 14;

    [ThreadStatic] private static ChunkJob? _job;

    private sealed unsafe class ChunkJob : IParallelWork
    {
        private float* _x, _mask, _y;
        private float _p;
        private RandomStream _random;
        private int _n, _chunks;

        public void Set(float* x, float* mask, float* y, float p, RandomStream random, int n, int chunks)
        {
            _x = x;
            _mask = mask;
            _y = y;
            _p = p;
            _random = random;
            _n = n;
            _chunks = chunks;
        }

        public void Run(int task, int thread) => Range(_x, _mask, _y, _p, _random, Cut(task), Cut(task + 1));

        private int Cut(int chunk) => chunk == _chunks ? _n : (int)((long)_n * chunk / _chunks) & ~63;
    }
}
