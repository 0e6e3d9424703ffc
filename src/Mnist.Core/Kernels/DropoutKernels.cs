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

    /// <summary>Elements [i0, i1): one Philox block gives four consecutive numbers of the stream.</summary>
    private static unsafe void Range(float* x, float* mask, float* y, float p, RandomStream random, int i0, int i1)
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
