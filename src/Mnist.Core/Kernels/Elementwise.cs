using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Mnist.Core.Kernels.Lanes;

namespace Mnist.Core.Kernels;

/// <summary>
/// Element-wise and reduction kernels that the layers share, vectorised with <see cref="Vector{T}"/>
/// (256-bit on AVX2 machines) and a scalar tail. Each gives exactly the reference's result except
/// <see cref="SumChannels"/>, which adds in a different order. The passes over whole activations
/// (ReLU and its backward, axpy, add, scale) are cut into chunks for the kernel threads when they are large.
/// </summary>
public static class Elementwise
{
    /// <summary>y = max(x, 0).</summary>
    public static unsafe void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        y = y[..x.Length];
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x, py = y) RunChunks(ChunkJob.Op.Relu, x.Length, px, null, py, 0f);
            return;
        }
        ReluSerial(x, y);
    }

    private static void ReluSerial(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w)
        {
            var v = Load(ref xs, i);
            Store(Vector.ConditionalSelect(Vector.GreaterThan(v, Vector<float>.Zero), v, Vector<float>.Zero), ref ys, i);
        }
        for (; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : 0f;
    }

    /// <summary>dx = dy where x &gt; 0, else 0.</summary>
    public static unsafe void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        dy = dy[..x.Length];
        dx = dx[..x.Length];
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x, pdy = dy, pdx = dx) RunChunks(ChunkJob.Op.ReluBackward, x.Length, px, pdy, pdx, 0f);
            return;
        }
        ReluBackwardSerial(x, dy, dx);
    }

    private static void ReluBackwardSerial(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ds = ref MemoryMarshal.GetReference(dy);
        ref float os = ref MemoryMarshal.GetReference(dx);
        for (; i <= x.Length - w; i += w)
        {
            var mask = Vector.GreaterThan(Load(ref xs, i), Vector<float>.Zero);
            Store(Vector.ConditionalSelect(mask, Load(ref ds, i), Vector<float>.Zero), ref os, i);
        }
        for (; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : 0f;
    }

    /// <summary>Adds bias[j] to every row of a rows×bias.Length matrix (dense layers).</summary>
    public static void AddRowBias(Span<float> matrix, int rows, ReadOnlySpan<float> bias)
    {
        int cols = bias.Length;
        matrix = matrix[..(rows * cols)];
        for (int r = 0; r < rows; r++) AddInPlace(matrix.Slice(r * cols, cols), bias);
    }

    /// <summary>sums[j] = Σ_rows matrix[row, j] (dense bias gradient).</summary>
    public static void SumRows(ReadOnlySpan<float> matrix, int rows, Span<float> sums)
    {
        int cols = sums.Length;
        matrix = matrix[..(rows * cols)];
        sums.Clear();
        for (int r = 0; r < rows; r++) AddInPlace(sums, matrix.Slice(r * cols, cols));
    }

    /// <summary>
    /// sums[c] = Σ over batch and plane of x[n, c, :] (conv bias gradient). Large inputs take each
    /// plane's sum on the kernel threads, a range of images each (the threads' own part of the batch,
    /// as in the layers' other kernels: taking a range of channels instead read the other core's
    /// images); each channel then adds its planes' sums image after image, so the bits do not depend
    /// on the thread count.
    /// </summary>
    public static unsafe void SumChannels(ReadOnlySpan<float> x, int batch, int plane, Span<float> sums)
    {
        int channels = sums.Length;
        x = x[..(batch * channels * plane)];
        int chunks = Math.Max(1, Math.Min(batch, Chunks(x.Length)));
        if (_planeSums is null || _planeSums.Length < batch * channels) _planeSums = new float[batch * channels];
        fixed (float* px = x, ps = sums, pp = _planeSums)
        {
            var job = _channelSums ??= new PlaneSumJob();
            job.Set(batch, channels, plane, chunks, px, pp);
            if (chunks > 1) KernelThreads.For(chunks, job);
            else job.Run(0, 0);
            AddPlaneSums(pp, batch, sums);
        }
    }

    /// <summary>
    /// sums[c] = Σ over n of planeSums[n·C + c], image after image: how <see cref="SumChannels"/> ends,
    /// for kernels that take the plane sums (<see cref="Sum"/> of each plane) themselves.
    /// </summary>
    internal static unsafe void AddPlaneSums(float* planeSums, int batch, Span<float> sums)
    {
        int channels = sums.Length;
        sums.Clear();
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < channels; c++) sums[c] += planeSums[n * channels + c];
    }

    [ThreadStatic] private static PlaneSumJob? _channelSums;
    [ThreadStatic] private static float[]? _planeSums;

    /// <summary>The plane sums of <see cref="SumChannels"/>, a range of images per task.</summary>
    private sealed unsafe class PlaneSumJob : IParallelWork
    {
        private int _batch, _channels, _plane, _chunks;
        private float* _x, _planeSums;

        public void Set(int batch, int channels, int plane, int chunks, float* x, float* planeSums)
        {
            _batch = batch; _channels = channels; _plane = plane; _chunks = chunks; _x = x; _planeSums = planeSums;
        }

        public void Run(int task, int thread)
        {
            int n0 = _batch * task / _chunks, n1 = _batch * (task + 1) / _chunks;
            for (long p = (long)n0 * _channels; p < (long)n1 * _channels; p++)
                _planeSums[p] = Sum(new ReadOnlySpan<float>(_x + p * _plane, _plane));
        }
    }

    /// <summary>y += a·x.</summary>
    public static unsafe void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        y = y[..x.Length];
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x, py = y) RunChunks(ChunkJob.Op.Axpy, x.Length, px, null, py, a);
            return;
        }
        AxpySerial(a, x, y);
    }

    private static void AxpySerial(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, w = Vector<float>.Count;
        var av = new Vector<float>(a);
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Store(Load(ref ys, i) + av * Load(ref xs, i), ref ys, i);
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>y = a + b, element by element.</summary>
    public static unsafe void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        b = b[..a.Length];
        y = y[..a.Length];
        if (Chunks(a.Length) > 1)
        {
            fixed (float* pa = a, pb = b, py = y) RunChunks(ChunkJob.Op.Add, a.Length, pa, pb, py, 0f);
            return;
        }
        AddSerial(a, b, y);
    }

    private static void AddSerial(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int i = 0, w = Vector<float>.Count;
        ref float xa = ref MemoryMarshal.GetReference(a);
        ref float xb = ref MemoryMarshal.GetReference(b);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= a.Length - w; i += w) Store(Load(ref xa, i) + Load(ref xb, i), ref ys, i);
        for (; i < a.Length; i++) y[i] = a[i] + b[i];
    }

    /// <summary>x *= a.</summary>
    public static unsafe void Scale(Span<float> x, float a)
    {
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x) RunChunks(ChunkJob.Op.Scale, x.Length, px, null, px, a);
            return;
        }
        ScaleSerial(x, a);
    }

    private static void ScaleSerial(Span<float> x, float a)
    {
        int i = 0, w = Vector<float>.Count;
        var av = new Vector<float>(a);
        ref float xs = ref MemoryMarshal.GetReference(x);
        for (; i <= x.Length - w; i += w) Store(Load(ref xs, i) * av, ref xs, i);
        for (; i < x.Length; i++) x[i] *= a;
    }

    /// <summary>y += x, element by element.</summary>
    internal static void AddInPlace(Span<float> y, ReadOnlySpan<float> x)
    {
        y = y[..x.Length];
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Store(Load(ref ys, i) + Load(ref xs, i), ref ys, i);
        for (; i < x.Length; i++) y[i] += x[i];
    }

    /// <summary>y += s for every element.</summary>
    internal static void AddScalar(Span<float> y, float s)
    {
        int i = 0, w = Vector<float>.Count;
        var sv = new Vector<float>(s);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= y.Length - w; i += w) Store(Load(ref ys, i) + sv, ref ys, i);
        for (; i < y.Length; i++) y[i] += s;
    }

    /// <summary>Σ x with four vector accumulators.</summary>
    internal static float Sum(ReadOnlySpan<float> x)
    {
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (; i <= x.Length - 4 * w; i += 4 * w)
        {
            s0 += Load(ref xs, i);
            s1 += Load(ref xs, i + w);
            s2 += Load(ref xs, i + 2 * w);
            s3 += Load(ref xs, i + 3 * w);
        }
        for (; i <= x.Length - w; i += w) s0 += Load(ref xs, i);
        float sum = Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < x.Length; i++) sum += x[i];
        return sum;
    }

    /// <summary>Below this many elements per chunk a second thread costs more than it saves.</summary>
    private const int ChunkElements = 1 << 16;

    /// <summary>How many chunks a pass over n elements is cut into (1: run it here).</summary>
    internal static int Chunks(int n) => KernelThreads.ThreadsFor(Math.Max(1, n / ChunkElements));

    /// <summary>Where chunk <paramref name="chunk"/> of n elements in <paramref name="chunks"/> starts: on a 64-float boundary, the last ending at n.</summary>
    internal static int ChunkStart(int n, int chunks, int chunk) => chunk == chunks ? n : (int)((long)n * chunk / chunks) & ~63;

    [ThreadStatic] private static ChunkJob? _chunks;

    private static unsafe void RunChunks(ChunkJob.Op op, int n, float* a, float* b, float* c, float s)
    {
        var job = _chunks ??= new ChunkJob();
        int chunks = Chunks(n);
        job.Set(op, n, chunks, a, b, c, s);
        KernelThreads.For(chunks, job);
    }

    /// <summary>One element-wise pass cut into contiguous chunks (cut on vector boundaries) for the kernel threads.</summary>
    private sealed unsafe class ChunkJob : IParallelWork
    {
        public enum Op { Relu, ReluBackward, Axpy, Scale, Add }

        private Op _op;
        private int _n, _chunks;
        private float* _a, _b, _c;
        private float _s;

        public void Set(Op op, int n, int chunks, float* a, float* b, float* c, float s)
        {
            _op = op; _n = n; _chunks = chunks; _a = a; _b = b; _c = c; _s = s;
        }

        public void Run(int task, int thread)
        {
            int i0 = ChunkStart(_n, _chunks, task), i1 = ChunkStart(_n, _chunks, task + 1), len = i1 - i0;
            switch (_op)
            {
                case Op.Relu: ReluSerial(new ReadOnlySpan<float>(_a + i0, len), new Span<float>(_c + i0, len)); break;
                case Op.ReluBackward:
                    ReluBackwardSerial(new ReadOnlySpan<float>(_a + i0, len), new ReadOnlySpan<float>(_b + i0, len), new Span<float>(_c + i0, len));
                    break;
                case Op.Axpy: AxpySerial(_s, new ReadOnlySpan<float>(_a + i0, len), new Span<float>(_c + i0, len)); break;
                case Op.Scale: ScaleSerial(new Span<float>(_c + i0, len), _s); break;
                case Op.Add:
                    AddSerial(new ReadOnlySpan<float>(_a + i0, len), new ReadOnlySpan<float>(_b + i0, len), new Span<float>(_c + i0, len));
                    break;
            }
        }

    }
}
