using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Mnist.Core.Kernels.Lanes;
using Mnist.Core.Backends;

namespace Mnist.Core.Kernels;

/// <summary>
/// The activations and their derivatives over spans (the CPU backend's), vectorised with
/// <see cref="Vector{T}"/> and cut into chunks for the kernel threads when large. exp, σ and tanh
/// are <see cref="VectorMath"/>'s (error bounds stated there); vector lanes and the scalar tail
/// compute each element the same way, so <see cref="ActivationReference"/>'s plain loops give the
/// same bits.
/// </summary>
public static class ActivationKernels
{
    /// <summary>y = f(x).</summary>
    public static unsafe void Apply(ActivationFunction f, ReadOnlySpan<float> x, Span<float> y)
    {
        y = y[..x.Length];
        if (f.Op == ActivationOp.Relu)
        {
            Elementwise.Relu(x, y);
            return;
        }
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x, py = y) Run(f, false, x.Length, px, null, null, py);
            return;
        }
        ApplySerial(f, x, y);
    }

    /// <summary>dx = dy · f′(x), given x and the y that <see cref="Apply"/> produced.</summary>
    public static unsafe void Derive(ActivationFunction f, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        dx = dx[..x.Length];
        if (f.Op == ActivationOp.Relu)
        {
            Elementwise.ReluBackward(x, dy, dx);
            return;
        }
        y = y[..x.Length];
        dy = dy[..x.Length];
        if (Chunks(x.Length) > 1)
        {
            fixed (float* px = x, py = y, pdy = dy, pdx = dx) Run(f, true, x.Length, px, py, pdy, pdx);
            return;
        }
        DeriveSerial(f, x, y, dy, dx);
    }

    private static void ApplySerial(ActivationFunction f, ReadOnlySpan<float> x, Span<float> y)
    {
        float a = f.Parameter;
        switch (f.Op)
        {
            case ActivationOp.Relu: Elementwise.Relu(x, y); break;
            case ActivationOp.LeakyRelu: Map(new LeakyRelu(a), x, y); break;
            case ActivationOp.Elu: Map(new Elu(a), x, y); break;
            case ActivationOp.Swish: Map(new Swish(), x, y); break;
            case ActivationOp.Sigmoid: Map(new Sigmoid(), x, y); break;
            case ActivationOp.Tanh: Map(new Tanh(), x, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation");
        }
    }

    private static void DeriveSerial(ActivationFunction f, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        float a = f.Parameter;
        switch (f.Op)
        {
            case ActivationOp.Relu: Elementwise.ReluBackward(x, dy, dx); break;
            case ActivationOp.LeakyRelu: Slope(new LeakyRelu(a), x, y, dy, dx); break;
            case ActivationOp.Elu: Slope(new Elu(a), x, y, dy, dx); break;
            case ActivationOp.Swish: Slope(new Swish(), x, y, dy, dx); break;
            case ActivationOp.Sigmoid: Slope(new Sigmoid(), x, y, dy, dx); break;
            case ActivationOp.Tanh: Slope(new Tanh(), x, y, dy, dx); break;
            default: throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation");
        }
    }

    /// <summary>One activation, as vector lanes and as a single float computed the same way.</summary>
    private interface IActivation
    {
        Vector<float> Value(Vector<float> x);
        float Value(float x);
        /// <summary>dy·f′(x), given y = f(x).</summary>
        Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy);
        float Slope(float x, float y, float dy);
    }

    private readonly struct LeakyRelu(float a) : IActivation
    {
        public Vector<float> Value(Vector<float> x) => Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), x, x * a);
        public float Value(float x) => ActivationReference.LeakyRelu(x, a);
        public Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy) =>
            Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), dy, dy * a);
        public float Slope(float x, float y, float dy) => ActivationReference.LeakyReluSlope(x, dy, a);
    }

    private readonly struct Elu(float a) : IActivation
    {
        public Vector<float> Value(Vector<float> x) =>
            Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), x, (VectorMath.Exp(x) - Vector<float>.One) * a);
        public float Value(float x) => ActivationReference.Elu(x, a);
        // Its slope below zero is y + alpha.
        public Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy) =>
            Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), dy, dy * (y + new Vector<float>(a)));
        public float Slope(float x, float y, float dy) => ActivationReference.EluSlope(x, y, dy, a);
    }

    private readonly struct Swish : IActivation
    {
        public Vector<float> Value(Vector<float> x) => x * VectorMath.Logistic(x);
        public float Value(float x) => ActivationReference.Swish(x);
        public Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy)
        {
            var s = VectorMath.Logistic(x);
            return dy * s * (Vector<float>.One + x * (Vector<float>.One - s));
        }
        public float Slope(float x, float y, float dy) => ActivationReference.SwishSlope(x, dy);
    }

    private readonly struct Sigmoid : IActivation
    {
        public Vector<float> Value(Vector<float> x) => VectorMath.Logistic(x);
        public float Value(float x) => VectorMath.Logistic(x);
        public Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy) => dy * y * (Vector<float>.One - y);
        public float Slope(float x, float y, float dy) => ActivationReference.SigmoidSlope(y, dy);
    }

    private readonly struct Tanh : IActivation
    {
        public Vector<float> Value(Vector<float> x) => VectorMath.Tanh(x);
        public float Value(float x) => VectorMath.Tanh(x);
        public Vector<float> Slope(Vector<float> x, Vector<float> y, Vector<float> dy) => dy * (Vector<float>.One - y * y);
        public float Slope(float x, float y, float dy) => ActivationReference.TanhSlope(y, dy);
    }

    private static void Map<T>(T f, ReadOnlySpan<float> x, Span<float> y) where T : struct, IActivation
    {
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Store(f.Value(Load(ref xs, i)), ref ys, i);
        for (; i < x.Length; i++) y[i] = f.Value(x[i]);
    }

    private static void Slope<T>(T f, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
        where T : struct, IActivation
    {
        int i = 0, w = Vector<float>.Count;
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float ds = ref MemoryMarshal.GetReference(dy);
        ref float os = ref MemoryMarshal.GetReference(dx);
        for (; i <= x.Length - w; i += w) Store(f.Slope(Load(ref xs, i), Load(ref ys, i), Load(ref ds, i)), ref os, i);
        for (; i < x.Length; i++) dx[i] = f.Slope(x[i], y[i], dy[i]);
    }

    // ---- chunks for the kernel threads ----

    /// <summary>Below this many elements per chunk a second thread costs more than it saves (exp costs ~20 flops).</summary>
    private const int ChunkElements = 1 << 14;

    private static int Chunks(int n) => KernelThreads.ThreadsFor(Math.Max(1, n / ChunkElements));

    [ThreadStatic] private static ChunkJob? _job;

    private static unsafe void Run(ActivationFunction f, bool backward, int n, float* x, float* y, float* dy, float* output)
    {
        var job = _job ??= new ChunkJob();
        int chunks = Chunks(n);
        job.Set(f, backward, n, chunks, x, y, dy, output);
        KernelThreads.For(chunks, job);
    }

    /// <summary>One activation pass cut into contiguous chunks on vector boundaries.</summary>
    private sealed unsafe class ChunkJob : IParallelWork
    {
        private ActivationFunction _f;
        private bool _backward;
        private int _n, _chunks;
        private float* _x, _y, _dy, _output;

        public void Set(ActivationFunction f, bool backward, int n, int chunks, float* x, float* y, float* dy, float* output)
        {
            _f = f;
            _backward = backward;
            _n = n;
            _chunks = chunks;
            _x = x;
            _y = y;
            _dy = dy;
            _output = output;
        }

        public void Run(int task, int thread)
        {
            int i0 = Cut(task), len = Cut(task + 1) - i0;
            var x = new ReadOnlySpan<float>(_x + i0, len);
            var output = new Span<float>(_output + i0, len);
            if (_backward) DeriveSerial(_f, x, new ReadOnlySpan<float>(_y + i0, len), new ReadOnlySpan<float>(_dy + i0, len), output);
            else ApplySerial(_f, x, output);
        }

        private int Cut(int chunk) => chunk == _chunks ? _n : (int)((long)_n * chunk / _chunks) & ~63;
    }
}
