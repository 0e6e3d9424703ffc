using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Mnist.Core.Kernels;

namespace Mnist.Bench;

/// <summary>
/// Kernel micro-benchmarks on the classic network's shapes (conv 1→32 and 32→64, 3×3 pad 1, on
/// 28×28 then 14×14, dense 3136→128→10, batch 64), plus resnet's and best's strided convolutions
/// and resnet's batch norms: GFLOP/s (or GB/s) medians of the fast kernels next to their scalar
/// references, and a whole kernel-level training step per batch.
/// Usage: dotnet bench/Mnist.Bench/bin/Release/net10.0/Mnist.Bench.dll [--quick] [--threads N] [--no-reference] [--cpu-time]
/// --cpu-time times by the calling thread's CPU clock (Linux) instead of the wall clock: with
/// --threads 1 it shows what the kernels cost even while other processes share the cores.
/// --png &lt;MNIST data dir&gt; instead times decoding and preparing drawn 280×280 PNGs (<see cref="PngBench"/>).
/// --augment &lt;MNIST data dir&gt; instead times filling augmented training batches (<see cref="AugmentBench"/>).
/// --layers &lt;preset&gt; instead times each layer of a preset's network alone (<see cref="LayerBench"/>); after
/// --cold-cache, each call after 128 MB were read, so it finds its operands in memory, as in training.
/// </summary>
public static class Program
{
    private const int Batch = 64;
    private static int _runs = 7;
    private static double _runSeconds = 0.25;
    private static bool _reference = true;
    private static bool _cpuTime;
    private static bool _coldCache;
    private static float _sink;

    public static void Main(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--quick": _runs = 3; _runSeconds = 0.1; break;
                case "--threads": KernelThreads.MaxThreads = int.Parse(args[++i]); break;
                case "--no-reference": _reference = false; break;
                case "--cpu-time": _cpuTime = true; break;
                case "--png": PngBench.Run(args[++i]); return;
                case "--augment": AugmentBench.Run(args[++i]); return;
                case "--cold-cache": _coldCache = true; break;
                case "--layers": LayerBench.Run(args[++i], _coldCache); return;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        Console.WriteLine($"Mnist.Bench: {Environment.ProcessorCount} cores, kernel threads {KernelThreads.MaxThreads}, " +
                          $"AVX-512 {Avx512F.IsSupported}, AVX2+FMA {Avx2.IsSupported && Fma.IsSupported}, " +
                          $"median of {_runs} runs of ≥{_runSeconds:F2} s, {(_cpuTime ? "thread CPU time" : "wall clock")}");
        if (_cpuTime && KernelThreads.MaxThreads > 1) Console.WriteLine("(CPU time of the calling thread only: use it with --threads 1)");
        Console.WriteLine($"load average at start: {LoadAverage()} (other processes on these cores slow every number)");
        Console.WriteLine();
        GemmTable();
        ConvolutionTable();
        PassTable();
        StepTable();
        Console.WriteLine($"load average at end: {LoadAverage()}");
    }

    // ------------------------------------------------------------------ GEMM

    private sealed record GemmShape(string Name, bool TransA, bool TransB, int M, int N, int K);

    private static readonly GemmShape[] GemmShapes =
    [
        new("conv1 forward, per image (W·cols)", false, false, 32, 784, 9),
        new("conv1 weights, batch (dy·colsᵀ)", false, true, 32, 9, Batch * 784),
        new("conv2 forward, per image", false, false, 64, 196, 288),
        new("conv2 data, per image (Wᵀ·dy)", true, false, 288, 196, 64),
        new("conv2 weights, batch", false, true, 64, 288, Batch * 196),
        new("dense 3136→128 forward (x·Wᵀ)", false, true, Batch, 128, 3136),
        new("dense 3136→128 data (dy·W)", false, false, Batch, 3136, 128),
        new("dense 3136→128 weights (dyᵀ·x)", true, false, 128, 3136, Batch),
        new("square 512", false, false, 512, 512, 512),
    ];

    private static void GemmTable()
    {
        Console.WriteLine("Sgemm                                   m×n×k            GFLOP/s   reference  ratio");
        foreach (var s in GemmShapes)
        {
            var a = Random(s.M * s.K, 1);
            var b = Random(s.K * s.N, 2);
            var c = new float[s.M * s.N];
            int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
            double flops = 2.0 * s.M * s.N * s.K;
            double fast = flops / Median(() => Gemm.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, a, lda, b, ldb, c, s.N)) / 1e9;
            double reference = _reference
                ? flops / Median(() => GemmReference.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, a, lda, b, ldb, c, s.N), referenceRuns: true) / 1e9
                : double.NaN;
            Console.WriteLine($"{s.Name,-40}{s.M + "×" + s.N + "×" + s.K,-17}{fast,7:F1}   {reference,9:F2}  {fast / reference,5:F0}×");
        }
        Console.WriteLine();
    }

    // ------------------------------------------------------------------ convolution

    private static readonly ConvGeometry Conv1 = new(1, 28, 28, 3, 3, 1, 1);
    private static readonly ConvGeometry Conv2 = new(32, 14, 14, 3, 3, 1, 1);

    /// <param name="im2col">Run the fast passes through im2col even where Winograd applies (the yardstick of the Winograd choice).</param>
    private sealed class ConvBuffers(ConvGeometry g, int outChannels, int seed, bool im2col = false)
    {
        public readonly ConvGeometry G = g;
        public readonly int Out = outChannels;
        public readonly float[] X = Random(Batch * g.ImageSize, seed), W = Random(outChannels * g.ColRows, seed + 1),
            Bias = Random(outChannels, seed + 2), Dy = Random(Batch * outChannels * g.ColCols, seed + 3),
            Y = new float[Batch * outChannels * g.ColCols], Dx = new float[Batch * g.ImageSize],
            Dw = new float[outChannels * g.ColRows], Db = new float[outChannels];
        public readonly Workspace Ws = new();
        public double Flops => 2.0 * Batch * Out * G.ColRows * G.ColCols;
        public void Forward() => Through(() => Convolution.Forward(G, Out, Batch, X, W, Bias, Y, Ws));
        public void Weights() => Through(() => Convolution.BackwardWeights(G, Out, Batch, X, Dy, Dw, Db, Ws));
        public void Data() => Through(() => Convolution.BackwardData(G, Out, Batch, Dy, W, Dx, Ws));

        private void Through(Action pass)
        {
            Convolution.WinogradAllowed = !im2col;
            try { pass(); }
            finally { Convolution.WinogradAllowed = true; }
        }
        public void ForwardReference() => ConvolutionReference.Forward(G, Out, Batch, X, W, Bias, Y);
        public void WeightsReference() => ConvolutionReference.BackwardWeights(G, Out, Batch, X, Dy, Dw, Db);
        public void DataReference() => ConvolutionReference.BackwardData(G, Out, Batch, Dy, W, Dx);
    }

    private static void ConvolutionTable()
    {
        Console.WriteLine($"Convolution, batch {Batch}                      ms      GFLOP/s   reference  ratio");
        foreach (var (name, conv) in new[]
                 {
                     ("conv1 1→32 28×28", new ConvBuffers(Conv1, 32, 10)), ("conv2 32→64 14×14", new ConvBuffers(Conv2, 64, 20)),
                     // resnet's first block: 16 channels at full size, through Winograd like conv2.
                     ("resnet 16→16 28×28", new ConvBuffers(new(16, 28, 28, 3, 3, 1, 1), 16, 50)),
                     ("resnet 16→16 28×28 im2col", new ConvBuffers(new(16, 28, 28, 3, 3, 1, 1), 16, 50, im2col: true)),
                     // Strided layers (im2col's gather): resnet's downsampling 3×3s and best's 5×5s.
                     ("resnet 16→32 3×3/2 28×28", new ConvBuffers(new(16, 28, 28, 3, 3, 2, 1), 32, 60)),
                     ("resnet 32→64 3×3/2 14×14", new ConvBuffers(new(32, 14, 14, 3, 3, 2, 1), 64, 70)),
                     ("best 32→32 5×5/2 24×24", new ConvBuffers(new(32, 24, 24, 5, 5, 2, 2), 32, 80)),
                 })
        {
            conv.Forward();
            foreach (var (op, fast, reference) in new (string, Action, Action)[]
                     {
                         ("forward", conv.Forward, conv.ForwardReference),
                         ("backward weights", conv.Weights, conv.WeightsReference),
                         ("backward data", conv.Data, conv.DataReference),
                     })
            {
                double t = Median(fast);
                double r = _reference ? Median(reference, referenceRuns: true) : double.NaN;
                Console.WriteLine($"{name + " " + op,-40}{t * 1e3,7:F3}  {conv.Flops / t / 1e9,7:F1}   {conv.Flops / r / 1e9,9:F2}  {r / t,5:F0}×");
            }
        }
        Console.WriteLine();
    }

    // ------------------------------------------------------------------ memory-bound passes

    /// <summary>The classic step's pooling and ReLU passes and resnet's batch norms alone: bound by memory traffic, not arithmetic.</summary>
    private static void PassTable()
    {
        Console.WriteLine($"Pooling, ReLU, batch norm, batch {Batch}       ms        GB/s   reference  ratio");
        foreach (var (name, g) in new[] { ("pool1 2×2, 32×28×28", new PoolGeometry(32, 28, 28, 2, 2)), ("pool2 2×2, 64×14×14", new PoolGeometry(64, 14, 14, 2, 2)) })
        {
            int inputs = Batch * g.Channels * g.InPlane, outputs = Batch * g.Channels * g.OutPlane;
            float[] x = Random(inputs, 50), y = new float[outputs], dy = Random(outputs, 51), dx = new float[inputs];
            int[] argmax = new int[outputs];
            Pooling.MaxForward(g, Batch, x, y, argmax);
            // Bytes touched: forward reads x, writes y and argmax; backward reads dy and argmax, writes dx.
            double bytes = 4.0 * (inputs + 2 * outputs);
            Row(name + " max forward", bytes, () => Pooling.MaxForward(g, Batch, x, y, argmax),
                () => PoolingReference.MaxForward(g, Batch, x, y, argmax));
            Row(name + " max backward", bytes, () => Pooling.MaxBackward(g, Batch, dy, argmax, dx),
                () => PoolingReference.MaxBackward(g, Batch, dy, argmax, dx));
        }
        // A convolution and the pooling after it, as two passes and fused (the same bits); bytes as the pooling rows'.
        foreach (var (name, conv) in new[] { ("conv1 + pool1", new ConvBuffers(Conv1, 32, 90)), ("conv2 + pool2", new ConvBuffers(Conv2, 64, 95)) })
        {
            var g = conv.G;
            var pool = new PoolGeometry(conv.Out, g.OutH, g.OutW, 2, 2);
            int inputs = conv.Y.Length, outputs = Batch * conv.Out * pool.OutPlane;
            float[] pooled = new float[outputs], dPooled = Random(outputs, 96);
            int[] argmax = new int[outputs];
            double bytes = 4.0 * (inputs + 2 * outputs);
            conv.Forward();
            Pooling.MaxForward(pool, Batch, conv.Y, pooled, argmax);
            Row(name + " forward, two passes", bytes, () => { conv.Forward(); Pooling.MaxForward(pool, Batch, conv.Y, pooled, argmax); }, null);
            Row(name + " forward, fused", bytes,
                () => Convolution.ForwardPooled(g, conv.Out, Batch, conv.X, conv.W, conv.Bias, pool, pooled, argmax, conv.Ws), null);
            if (g.Channels != 1) continue; // the fused weight gradient serves first layers
            Row(name + " weights, two passes", bytes, () => { Pooling.MaxBackward(pool, Batch, dPooled, argmax, conv.Dy); conv.Weights(); }, null);
            Row(name + " weights, fused", bytes,
                () => Convolution.BackwardWeightsPooled(g, conv.Out, Batch, conv.X, pool, dPooled, argmax, conv.Dw, conv.Db, conv.Ws), null);
        }
        {
            int n = Batch * 32 * 28 * 28;
            float[] x = Random(n, 52), y = new float[n], dy = Random(n, 53), dx = new float[n];
            Row("ReLU forward, 32×28×28", 8.0 * n, () => Elementwise.Relu(x, y), () => ElementwiseReference.Relu(x, y));
            Row("ReLU backward, 32×28×28", 12.0 * n, () => Elementwise.ReluBackward(x, dy, dx), () => ElementwiseReference.ReluBackward(x, dy, dx));
        }
        foreach (var (channels, side) in new[] { (16, 28), (32, 14), (64, 7) })
        {
            int plane = side * side, n = Batch * channels * plane;
            float[] x = Random(n, 54), dy = Random(n, 55), xhat = new float[n], y = new float[n], dx = new float[n];
            float[] gamma = Random(channels, 56), beta = Random(channels, 57), mean = new float[channels], invStd = new float[channels];
            float[] runMean = new float[channels], runVar = new float[channels], dGamma = new float[channels], dBeta = new float[channels];
            string name = $"batch norm {channels}×{side}×{side}";
            // Bytes: forward reads x (twice for the statistics, once to apply), writes xhat and y;
            // backward reads dy and xhat twice (sums, then dx) and writes dx.
            Row(name + " forward", 20.0 * n,
                () => BatchNormKernels.TrainingForward(x, Batch, channels, plane, 0.1f, 1e-5f, runMean, runVar, mean, invStd, gamma, beta, xhat, y),
                () =>
                {
                    BatchNormReference.Statistics(x, Batch, channels, plane, 0.1f, 1e-5f, runMean, runVar, mean, invStd);
                    BatchNormReference.Apply(x, Batch, channels, plane, mean, invStd, gamma, beta, xhat, y);
                });
            Row(name + " backward", 20.0 * n,
                () => BatchNormKernels.Backward(dy, xhat, gamma, invStd, Batch, channels, plane, true, dGamma, dBeta, dx),
                () => BatchNormReference.Backward(dy, xhat, gamma, invStd, Batch, channels, plane, true, dGamma, dBeta, dx));
        }
        Console.WriteLine();

        static void Row(string name, double bytes, Action fast, Action? reference)
        {
            double t = Median(fast);
            double r = _reference && reference is not null ? Median(reference, referenceRuns: true) : double.NaN;
            Console.WriteLine($"{name,-40}{t * 1e3,7:F3}  {bytes / t / 1e9,9:F1}   {bytes / r / 1e9,9:F2}  {r / t,5:F0}×");
        }
    }

    // ------------------------------------------------------------------ whole step

    /// <summary>
    /// Every kernel of one training step of the classic network, forward and backward, in the
    /// order the layers call them (conv1 needs no input gradient). No loss, no optimizer.
    /// </summary>
    private sealed class ClassicStep
    {
        private readonly ConvBuffers _c1 = new(Conv1, 32, 30), _c2 = new(Conv2, 64, 40);
        private readonly PoolGeometry _p1 = new(32, 28, 28, 2, 2), _p2 = new(64, 14, 14, 2, 2);
        private readonly float[] _r1 = new float[Batch * 32 * 784], _pool1 = new float[Batch * 32 * 196], _dpool1, _dr1 = new float[Batch * 32 * 784];
        private readonly float[] _r2 = new float[Batch * 64 * 196], _pool2 = new float[Batch * 3136], _dr2 = new float[Batch * 64 * 196];
        private readonly int[] _arg1 = new int[Batch * 32 * 196], _arg2 = new int[Batch * 3136];
        private readonly float[] _w3 = Random(128 * 3136, 50), _b3 = Random(128, 51), _h3 = new float[Batch * 128], _r3 = new float[Batch * 128];
        private readonly float[] _w4 = Random(10 * 128, 52), _b4 = Random(10, 53), _logits = new float[Batch * 10];
        private readonly float[] _dlogits = Random(Batch * 10, 54), _dw4 = new float[10 * 128], _db4 = new float[10], _dr3 = new float[Batch * 128];
        private readonly float[] _dh3 = new float[Batch * 128], _dw3 = new float[128 * 3136], _db3 = new float[128], _dpool2 = new float[Batch * 3136];

        public ClassicStep() => _dpool1 = new float[Batch * 32 * 196];

        public static double Flops =>
            2.0 * Batch * (32 * 9 * 784 * 2 + 64 * 288 * 196 * 3 + 3136 * 128 * 3 + 128 * 10 * 3);

        public void Run(bool reference)
        {
            var (c1, c2) = (_c1, _c2);
            // forward
            if (reference) ConvolutionReference.Forward(c1.G, 32, Batch, c1.X, c1.W, c1.Bias, c1.Y);
            else Convolution.Forward(c1.G, 32, Batch, c1.X, c1.W, c1.Bias, c1.Y, c1.Ws);
            Relu(reference, c1.Y, _r1);
            MaxPool(reference, _p1, _r1, _pool1, _arg1);
            if (reference) ConvolutionReference.Forward(c2.G, 64, Batch, _pool1, c2.W, c2.Bias, c2.Y);
            else Convolution.Forward(c2.G, 64, Batch, _pool1, c2.W, c2.Bias, c2.Y, c2.Ws);
            Relu(reference, c2.Y, _r2);
            MaxPool(reference, _p2, _r2, _pool2, _arg2);
            Mul(reference, false, true, Batch, 128, 3136, _pool2, 3136, _w3, 3136, _h3, 128);
            if (reference) ElementwiseReference.AddRowBias(_h3, Batch, _b3); else Elementwise.AddRowBias(_h3, Batch, _b3);
            Relu(reference, _h3, _r3);
            Mul(reference, false, true, Batch, 10, 128, _r3, 128, _w4, 128, _logits, 10);
            if (reference) ElementwiseReference.AddRowBias(_logits, Batch, _b4); else Elementwise.AddRowBias(_logits, Batch, _b4);
            // backward
            Mul(reference, true, false, 10, 128, Batch, _dlogits, 10, _r3, 128, _dw4, 128);
            if (reference) ElementwiseReference.SumRows(_dlogits, Batch, _db4); else Elementwise.SumRows(_dlogits, Batch, _db4);
            Mul(reference, false, false, Batch, 128, 10, _dlogits, 10, _w4, 128, _dr3, 128);
            ReluBack(reference, _h3, _dr3, _dh3);
            Mul(reference, true, false, 128, 3136, Batch, _dh3, 128, _pool2, 3136, _dw3, 3136);
            if (reference) ElementwiseReference.SumRows(_dh3, Batch, _db3); else Elementwise.SumRows(_dh3, Batch, _db3);
            Mul(reference, false, false, Batch, 3136, 128, _dh3, 128, _w3, 3136, _dpool2, 3136);
            MaxPoolBack(reference, _p2, _dpool2, _arg2, _dr2);
            ReluBack(reference, c2.Y, _dr2, c2.Dy);
            if (reference)
            {
                ConvolutionReference.BackwardWeights(c2.G, 64, Batch, _pool1, c2.Dy, c2.Dw, c2.Db);
                ConvolutionReference.BackwardData(c2.G, 64, Batch, c2.Dy, c2.W, _dpool1);
            }
            else
            {
                Convolution.BackwardWeights(c2.G, 64, Batch, _pool1, c2.Dy, c2.Dw, c2.Db, c2.Ws);
                Convolution.BackwardData(c2.G, 64, Batch, c2.Dy, c2.W, _dpool1, c2.Ws);
            }
            MaxPoolBack(reference, _p1, _dpool1, _arg1, _dr1);
            ReluBack(reference, c1.Y, _dr1, c1.Dy);
            if (reference) ConvolutionReference.BackwardWeights(c1.G, 32, Batch, c1.X, c1.Dy, c1.Dw, c1.Db);
            else Convolution.BackwardWeights(c1.G, 32, Batch, c1.X, c1.Dy, c1.Dw, c1.Db, c1.Ws);
        }

        private static void Mul(bool reference, bool ta, bool tb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc)
        {
            if (reference) GemmReference.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
            else Gemm.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
        }

        private static void Relu(bool reference, float[] x, float[] y)
        {
            if (reference) ElementwiseReference.Relu(x, y); else Elementwise.Relu(x, y);
        }

        private static void ReluBack(bool reference, float[] x, float[] dy, float[] dx)
        {
            if (reference) ElementwiseReference.ReluBackward(x, dy, dx); else Elementwise.ReluBackward(x, dy, dx);
        }

        private static void MaxPool(bool reference, PoolGeometry g, float[] x, float[] y, int[] arg)
        {
            if (reference) PoolingReference.MaxForward(g, Batch, x, y, arg); else Pooling.MaxForward(g, Batch, x, y, arg);
        }

        private static void MaxPoolBack(bool reference, PoolGeometry g, float[] dy, int[] arg, float[] dx)
        {
            if (reference) PoolingReference.MaxBackward(g, Batch, dy, arg, dx); else Pooling.MaxBackward(g, Batch, dy, arg, dx);
        }
    }

    private static void StepTable()
    {
        var step = new ClassicStep();
        double t = Median(() => step.Run(false));
        double r = _reference ? Median(() => step.Run(true), referenceRuns: true) : double.NaN;
        const int batchesPerEpoch = (60_000 + Batch - 1) / Batch;
        Console.WriteLine($"Classic net, kernels of one training step (batch {Batch}, {ClassicStep.Flops / 1e9:F2} GFLOP):");
        Console.WriteLine($"  fast       {t * 1e3,8:F2} ms/batch  {ClassicStep.Flops / t / 1e9,6:F1} GFLOP/s  → {t * batchesPerEpoch,6:F1} s per 60k-image epoch");
        if (_reference)
            Console.WriteLine($"  reference  {r * 1e3,8:F2} ms/batch  {ClassicStep.Flops / r / 1e9,6:F1} GFLOP/s  → {r * batchesPerEpoch,6:F1} s per epoch  (fast is {r / t:F0}× faster)");
    }

    // ------------------------------------------------------------------ timing

    /// <summary>
    /// The median time of single calls, each after 128 MB were read: the call finds its operands in
    /// memory rather than in the cache, as a layer does in a network whose activations outgrow it.
    /// (Read, not written: evicting 128 MB of dirty lines would bill the call for writing them back.)
    /// </summary>
    internal static double MedianCold(Action action)
    {
        var flush = _flush ??= Flush();
        WarmUp(action);
        var perCall = new double[Math.Max(_runs, 15)];
        for (int r = 0; r < perCall.Length; r++)
        {
            _sink += ReadAll(flush);
            long start = Stopwatch.GetTimestamp();
            double cpu0 = _cpuTime ? ThreadCpuSeconds() : 0;
            action();
            perCall[r] = _cpuTime ? ThreadCpuSeconds() - cpu0 : Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(perCall);
        return perCall[perCall.Length / 2];
    }

    private static float[]? _flush;

    private static float[] Flush()
    {
        var data = new float[32 << 20];
        data.AsSpan().Fill(1f);
        return data;
    }

    private static float ReadAll(float[] data)
    {
        var sum = System.Numerics.Vector<float>.Zero;
        foreach (var v in System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(data)) sum += v;
        return System.Numerics.Vector.Sum(sum);
    }

    /// <summary>Median seconds per call over several runs, each repeating the call for a minimum time.</summary>
    internal static double Median(Action action, bool referenceRuns = false)
    {
        if (referenceRuns) action();
        else WarmUp(action);
        int runs = referenceRuns ? Math.Min(_runs, 3) : _runs;
        double minSeconds = referenceRuns ? 0 : _runSeconds;
        var perCall = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            var sw = Stopwatch.StartNew();
            double cpu0 = _cpuTime ? ThreadCpuSeconds() : 0;
            int calls = 0;
            do { action(); calls++; } while (sw.Elapsed.TotalSeconds < minSeconds);
            perCall[r] = (_cpuTime ? ThreadCpuSeconds() - cpu0 : sw.Elapsed.TotalSeconds) / calls;
        }
        Array.Sort(perCall);
        return perCall[runs / 2];
    }

    /// <summary>Calls the action long enough for the JIT's tiered compilation to settle on optimised code.</summary>
    private static void WarmUp(Action action)
    {
        var warm = Stopwatch.StartNew();
        do action(); while (warm.Elapsed.TotalSeconds < _runSeconds);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID).</summary>
    internal static double ThreadCpuSeconds()
    {
        if (ClockGetTime(3, out var t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    internal static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
