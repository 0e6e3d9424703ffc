using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using Mnist.Core.Backends;
using Mnist.Core.Kernels;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;
using Mnist.Gpu.Kernels;

namespace Mnist.Gpu;

/// <summary>
/// The engine on an ILGPU accelerator: a CUDA GPU, or ILGPU's CPU accelerator (which runs the very
/// same kernels, slowly, anywhere: the tests' device). Tensors live in device memory; every entry
/// point is one or a few of our kernels (Kernels/), launched in order on the accelerator's stream;
/// only the counted transfers of the seam reach the host. Calls are serialised (one lock), so
/// several threads may share it. Results are deterministic for a device; where they differ from
/// the CPU's see docs/backends.md.
/// </summary>
public sealed class GpuBackend : Backend, IDisposable
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly KernelSet _k;
    private readonly Lock _gate = new();
    private readonly DeviceInfo _info;
    private readonly int _gemmSide, _reduceThreads;
    // The loss's per-row results and its two scalars.
    private MemoryBuffer1D<double, Stride1D.Dense>? _rowLosses;
    private MemoryBuffer1D<int, Stride1D.Dense>? _rowHits;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _lossResult;
    // The partial products of k-split GEMMs (calls are serialised, so one buffer serves them all).
    private readonly GrowingBuffer _splitScratch = new();
    private bool _disposed;

    /// <param name="gemmSide">The GEMM's group side T (a 4T×4T tile per group).</param>
    /// <param name="reduceThreads">Threads of a reduction's group (a power of two).</param>
    internal GpuBackend(Context context, Accelerator accelerator, string kind, string name, DeviceInfo info, int gemmSide,
        int reduceThreads)
    {
        _gemmSide = gemmSide;
        _reduceThreads = reduceThreads;
        _context = context;
        _accelerator = accelerator;
        Kind = kind;
        Name = name;
        _info = info;
        _k = new KernelSet(accelerator);
        _lossResult = accelerator.Allocate1D<float>(2);
    }

    public override string Kind { get; }
    public override string Name { get; }
    public override DeviceInfo Describe() => _info;

    /// <summary>
    /// Binds the accelerator to the calling thread and holds the backend's lock until disposed; with
    /// MNIST_GPU_PROFILE=1 the call's device time is counted under the entry point's name.
    /// </summary>
    private Call Enter([CallerMemberName] string entry = "")
    {
        var scope = _gate.EnterScope();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Accelerator.Current != _accelerator) _accelerator.Bind();
        return new Call(scope, _accelerator, entry, GpuProfile.Start(_accelerator));
    }

    private ref struct Call(Lock.Scope scope, Accelerator accelerator, string entry, long start)
    {
        private Lock.Scope _scope = scope;

        public void Dispose()
        {
            try { GpuProfile.Stop(accelerator, entry, start); }
            finally { _scope.Dispose(); }
        }
    }

    // ---- storage ----

    public override DeviceBuffer Allocate(int length) => Allocate<float>(length);
    public override DeviceBuffer AllocateIndices(int length) => Allocate<int>(length);

    private GpuBuffer<T> Allocate<T>(int length) where T : unmanaged
    {
        using var _ = Enter();
        var memory = _accelerator.Allocate1D<T>(Math.Max(length, 1));
        memory.MemSetToZero();
        return new GpuBuffer<T>(this, memory);
    }

    // ILGPU copies to and from the host through a raw address it takes to be pinned (it allocates
    // before it copies, so a garbage collection can come in between): a managed array that moved
    // would be read or overwritten at its old place. Each copy below pins the host memory, and
    // keeps the device buffer alive (its finalizer frees the memory).

    protected override unsafe void UploadCore(ReadOnlySpan<float> source, DeviceBuffer target, int offset)
    {
        if (source.IsEmpty) return;
        using var _ = Enter();
        var buffer = Floats(target);
        fixed (float* host = source)
            ((ArrayView<float>)buffer.Memory.View).SubView(offset, source.Length).CopyFromCPU(ref *host, source.Length);
        GC.KeepAlive(buffer);
    }

    protected override unsafe void DownloadCore(DeviceBuffer source, int offset, Span<float> target)
    {
        if (target.IsEmpty) return;
        using var _ = Enter();
        var buffer = Floats(source);
        fixed (float* host = target)
            ((ArrayView<float>)buffer.Memory.View).SubView(offset, target.Length).CopyToCPU(ref *host, target.Length);
        GC.KeepAlive(buffer);
    }

    protected override unsafe void UploadCore(ReadOnlySpan<int> source, DeviceBuffer target)
    {
        if (source.IsEmpty) return;
        using var _ = Enter();
        var buffer = Ints(target);
        fixed (int* host = source)
            buffer.View(source.Length).CopyFromCPU(ref *host, source.Length);
        GC.KeepAlive(buffer);
    }

    protected override unsafe void DownloadCore(DeviceBuffer source, Span<int> target)
    {
        if (target.IsEmpty) return;
        using var _ = Enter();
        var buffer = Ints(source);
        fixed (int* host = target)
            buffer.View(target.Length).CopyToCPU(ref *host, target.Length);
        GC.KeepAlive(buffer);
    }

    private GpuBuffer<float> Floats(DeviceBuffer buffer) =>
        buffer is GpuBuffer<float> own && own.Backend == this ? own : throw Foreign(buffer);

    private GpuBuffer<int> Ints(DeviceBuffer buffer) =>
        buffer is GpuBuffer<int> own && own.Backend == this ? own : throw Foreign(buffer);

    private ArgumentException Foreign(DeviceBuffer buffer) =>
        new($"storage of {buffer.Backend} ({buffer.GetType().Name}) handed to {Name}");

    /// <summary>A tensor's elements (its Length of them) as a kernel argument.</summary>
    private ArrayView<float> V(Tensor t) => Floats(t.Storage).View(t.Length);

    /// <summary>The first <paramref name="length"/> elements of a tensor's storage.</summary>
    private ArrayView<float> V(Tensor t, int length) => Floats(t.Storage).View(length);

    private ArrayView<int> V(IndexBuffer b) => Ints(b.Storage).View(b.Length);

    // ---- copies and fills ----

    public override void Fill(Tensor tensor, float value)
    {
        if (tensor.Length == 0) return;
        using var _ = Enter();
        _k.Fill(tensor.Length, V(tensor), value);
    }

    public override void Copy(Tensor source, Tensor target)
    {
        if (source.Length == 0) return;
        using var _ = Enter();
        _k.Copy(source.Length, V(source), V(target, source.Length));
    }

    // ---- dense ----

    public override void Gemm(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb,
        Tensor c, int ldc, float beta = 0f)
    {
        if (m == 0 || n == 0) return;
        using var _ = Enter();
        GemmOn(new GemmShape(transA ? 1 : 0, transB ? 1 : 0, m, n, k, lda, ldb, ldc, beta), V(a), V(b), V(c));
    }

    /// <summary>One GEMM, split along k when its tiles alone would leave the device idle (GemmKernel.SplitK).</summary>
    private void GemmOn(GemmShape shape, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        long start = GpuProfile.Start(_accelerator);
        int chunk = GemmKernel.SplitK(shape.M, shape.N, shape.K, _gemmSide);
        if (chunk >= shape.K)
        {
            _k.Gemm(GemmKernel.Config(shape, _gemmSide), shape, a, b, c);
        }
        else
        {
            long block = (long)shape.M * shape.N;
            var split = shape with { Ldc = shape.N, Beta = 0f, KChunk = chunk, SplitStride = block };
            var partial = _splitScratch.Get(_accelerator, block * split.Splits);
            _k.Gemm(GemmKernel.Config(split, _gemmSide), split, a, b, partial);
            _k.SumSplits((int)block, shape.N, split.Splits, shape.Ldc, shape.Beta, partial, c);
        }
        if (GpuProfile.Enabled)
            GpuProfile.Stop(_accelerator, $"  gemm {shape.M}x{shape.N}x{shape.K}{(shape.TransA != 0 ? " Aᵀ" : "")}{(shape.TransB != 0 ? " Bᵀ" : "")}", start);
    }

    public override void AddRowBias(Tensor y, int rows, Tensor bias)
    {
        int n = rows * bias.Length;
        if (n == 0) return;
        using var _ = Enter();
        _k.AddRowBias(n, bias.Length, V(y, n), V(bias));
    }

    public override void SumRows(Tensor matrix, int rows, Tensor sums)
    {
        if (sums.Length == 0) return;
        using var _ = Enter();
        _k.SumRows(sums.Length, rows, sums.Length, V(matrix, Math.Max(rows * sums.Length, 1)), V(sums));
    }

    // ---- convolutions: the whole batch unfolded, one GEMM per pass ----

    private ConvScratch Scratch(Workspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (workspace.DeviceState is not ConvScratch scratch) workspace.DeviceState = scratch = new ConvScratch();
        return scratch;
    }

    public override void ConvForward(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor w, Tensor bias, Tensor y,
        Workspace workspace)
    {
        if (batch == 0) return;
        using var _ = Enter();
        var scratch = Scratch(workspace);
        int columns = batch * g.ColCols;
        var cols = scratch.Cols(_accelerator, (long)g.ColRows * columns);
        var product = scratch.Product(_accelerator, (long)outChannels * columns);
        _k.Unfold((int)cols.Length, g, batch, V(x, batch * g.ImageSize), cols);
        GemmOn(new GemmShape(0, 0, outChannels, columns, g.ColRows, g.ColRows, columns, columns, 0f), V(w), cols, product);
        _k.ToImages(batch * outChannels * g.ColCols, outChannels, g.ColCols, batch, product, V(bias, outChannels),
            V(y, batch * outChannels * g.ColCols));
        GC.KeepAlive(scratch); // the kernels hold views only (see GpuBuffer)
    }

    public override void ConvBackwardData(in ConvGeometry g, int outChannels, int batch, Tensor dy, Tensor w, Tensor dx,
        Workspace workspace)
    {
        if (batch == 0) return;
        using var _ = Enter();
        var scratch = Scratch(workspace);
        int columns = batch * g.ColCols;
        var product = scratch.Product(_accelerator, (long)outChannels * columns);
        var dcols = scratch.ColumnGradient(_accelerator, (long)g.ColRows * columns);
        _k.FromImages(outChannels * columns, outChannels, g.ColCols, batch, V(dy, outChannels * columns), product);
        // dcols = Wᵀ·dy: W is [out, ColRows].
        GemmOn(new GemmShape(1, 0, g.ColRows, columns, outChannels, g.ColRows, columns, columns, 0f), V(w), product, dcols);
        _k.Fold(batch * g.ImageSize, g, batch, dcols, V(dx, batch * g.ImageSize));
        GC.KeepAlive(scratch);
    }

    public override void ConvBackwardWeights(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor dy, Tensor dw,
        Tensor db, Workspace workspace)
    {
        using var _ = Enter();
        if (batch == 0)
        {
            _k.Fill(outChannels * g.ColRows, V(dw, outChannels * g.ColRows), 0f);
            _k.Fill(outChannels, V(db, outChannels), 0f);
            return;
        }
        var scratch = Scratch(workspace);
        int columns = batch * g.ColCols;
        var cols = scratch.Cols(_accelerator, (long)g.ColRows * columns);
        var product = scratch.Product(_accelerator, (long)outChannels * columns);
        _k.Unfold((int)cols.Length, g, batch, V(x, batch * g.ImageSize), cols);
        _k.FromImages(outChannels * columns, outChannels, g.ColCols, batch, V(dy, outChannels * columns), product);
        // dW = dy·colsᵀ over the whole batch; db = each output channel's sum.
        GemmOn(new GemmShape(0, 1, outChannels, g.ColRows, columns, columns, columns, g.ColRows, 0f), product, cols,
            V(dw, outChannels * g.ColRows));
        _k.RowSums(Reduce.PerItem(outChannels, _reduceThreads), columns, product, V(db, outChannels));
        GC.KeepAlive(scratch);
    }

    // ---- pooling ----

    public override void MaxPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y, IndexBuffer argmax)
    {
        int outputs = batch * g.Channels * g.OutPlane;
        if (outputs == 0) return;
        using var _ = Enter();
        _k.MaxPoolForward(outputs, g, V(x, batch * g.Channels * g.InPlane), V(y, outputs), Ints(argmax.Storage).View(outputs));
    }

    public override void MaxPoolBackward(in PoolGeometry g, int batch, Tensor dy, IndexBuffer argmax, Tensor dx)
    {
        int inputs = batch * g.Channels * g.InPlane, outputs = batch * g.Channels * g.OutPlane;
        if (inputs == 0) return;
        using var _ = Enter();
        _k.MaxPoolBackward(inputs, g, V(dy, Math.Max(outputs, 1)), Ints(argmax.Storage).View(Math.Max(outputs, 1)), V(dx, inputs));
    }

    public override void AvgPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y)
    {
        int outputs = batch * g.Channels * g.OutPlane;
        if (outputs == 0) return;
        using var _ = Enter();
        _k.AvgPoolForward(outputs, g, V(x, batch * g.Channels * g.InPlane), V(y, outputs));
    }

    public override void AvgPoolBackward(in PoolGeometry g, int batch, Tensor dy, Tensor dx)
    {
        int inputs = batch * g.Channels * g.InPlane, outputs = batch * g.Channels * g.OutPlane;
        if (inputs == 0) return;
        using var _ = Enter();
        _k.AvgPoolBackward(inputs, g, V(dy, Math.Max(outputs, 1)), V(dx, inputs));
    }

    public override void GlobalMaxPoolForward(Tensor x, int planes, int planeSize, Tensor y, IndexBuffer argmax)
    {
        if (planes == 0) return;
        using var _ = Enter();
        _k.GlobalMaxForward(planes, planeSize, V(x, planes * planeSize), V(y, planes), Ints(argmax.Storage).View(planes));
    }

    public override void GlobalMaxPoolBackward(Tensor dy, IndexBuffer argmax, int planes, int planeSize, Tensor dx)
    {
        if (planes == 0) return;
        using var _ = Enter();
        _k.GlobalMaxBackward(planes * planeSize, planeSize, V(dy, planes), Ints(argmax.Storage).View(planes), V(dx, planes * planeSize));
    }

    // ---- element-wise ----

    public override void Activate(ActivationFunction f, Tensor x, Tensor y)
    {
        if (x.Length == 0) return;
        using var _ = Enter();
        _k.Activate(x.Length, f, V(x), V(y, x.Length));
    }

    public override void ActivateBackward(ActivationFunction f, Tensor x, Tensor y, Tensor dy, Tensor dx)
    {
        if (x.Length == 0) return;
        using var _ = Enter();
        _k.Derive(x.Length, f, V(x), V(y, x.Length), V(dy, x.Length), V(dx, x.Length));
    }

    public override void Axpy(float a, Tensor x, Tensor y)
    {
        if (x.Length == 0) return;
        using var _ = Enter();
        _k.Axpy(x.Length, a, V(x), V(y, x.Length));
    }

    public override void Multiply(Tensor a, Tensor b, Tensor y)
    {
        if (a.Length == 0) return;
        using var _ = Enter();
        _k.Multiply(a.Length, V(a), V(b, a.Length), V(y, a.Length));
    }

    public override void DropoutMask(Tensor mask, float p, in RandomStream random)
    {
        if (mask.Length == 0) return;
        using var _ = Enter();
        _k.DropoutMask(mask.Length, random, p, 1f / (1f - p), V(mask));
    }

    // ---- batch norm ----

    public override void BatchNormStatistics(Tensor x, int batch, int channels, int plane, float momentum, float epsilon,
        Tensor runningMean, Tensor runningVar, Tensor mean, Tensor invStd)
    {
        if (channels == 0) return;
        using var _ = Enter();
        var s = new NormShape(batch, channels, plane);
        _k.NormStatistics(Reduce.PerItem(channels, _reduceThreads), s, momentum, epsilon, V(x, Math.Max(batch * channels * plane, 1)),
            V(runningMean, channels), V(runningVar, channels), V(mean, channels), V(invStd, channels));
    }

    public override void BatchNormInverseStd(Tensor variance, float epsilon, Tensor invStd)
    {
        if (variance.Length == 0) return;
        using var _ = Enter();
        _k.NormInverseStd(variance.Length, epsilon, V(variance), V(invStd, variance.Length));
    }

    public override void BatchNormApply(Tensor x, int batch, int channels, int plane, Tensor mean, Tensor invStd,
        Tensor gamma, Tensor beta, Tensor xhat, Tensor y)
    {
        int n = batch * channels * plane;
        if (n == 0) return;
        using var _ = Enter();
        _k.NormApply(n, new NormShape(batch, channels, plane), V(x, n), V(mean, channels), V(invStd, channels), V(gamma, channels),
            V(beta, channels), V(xhat, n), V(y, n));
    }

    public override void BatchNormBackward(Tensor dy, Tensor xhat, Tensor gamma, Tensor invStd, int batch, int channels,
        int plane, bool training, Tensor dGamma, Tensor dBeta, Tensor? dx)
    {
        if (channels == 0) return;
        using var _ = Enter();
        int n = Math.Max(batch * channels * plane, 1);
        var s = new NormShape(batch, channels, plane);
        _k.NormBackward(Reduce.PerItem(channels, _reduceThreads), s, training ? 1 : 0, dx is null ? 0 : 1, V(dy, n), V(xhat, n),
            V(gamma, channels), V(invStd, channels), V(dGamma, channels), V(dBeta, channels), dx is null ? V(dy, n) : V(dx, n));
    }

    // ---- the loss ----

    protected override LossResult SoftmaxCrossEntropyCore(Tensor logits, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor probabilities)
    {
        using var _ = Enter();
        if (_rowLosses is null || _rowLosses.Length < batch)
        {
            _rowLosses?.Dispose();
            _rowHits?.Dispose();
            _rowLosses = _accelerator.Allocate1D<double>(Math.Max(batch, 1));
            _rowHits = _accelerator.Allocate1D<int>(Math.Max(batch, 1));
        }
        ArrayView<double> losses = _rowLosses.View;
        ArrayView<int> hits = _rowHits!.View;
        int n = batch * classes;
        if (batch > 0)
            _k.LossRows(batch, classes, smoothing, V(logits, n), Ints(labels.Storage).View(batch), V(probabilities, n), losses, hits);
        _k.LossTotal(Reduce.PerItem(1, _reduceThreads), batch, losses, hits, _lossResult.View);
        Span<float> result = stackalloc float[2]; // on the stack: nothing to pin
        ((ArrayView<float>)_lossResult.View).CopyToCPU(ref result[0], 2);
        return new LossResult(result[0], (int)result[1], batch);
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor gradient)
    {
        int n = batch * classes;
        if (n == 0) return;
        using var _ = Enter();
        float inv = 1f / batch;
        _k.LossBackward(n, classes, inv, smoothing * inv / classes, (1 - smoothing) * inv, V(probabilities, n), Ints(labels.Storage).View(batch), V(gradient, n));
    }

    // ---- optimizer updates ----

    private void Update(UpdateRule rule, float a, float b, float c, float d, float e, in WeightPenalty penalty, Tensor p, Tensor g,
        Tensor? s0, Tensor? s1)
    {
        if (p.Length == 0) return;
        if (g.Length != p.Length) throw new ArgumentException($"gradient has {g.Length} elements, parameter {p.Length}");
        using var _ = Enter();
        var args = new UpdateArgs(rule, a, b, c, d, e, penalty.L1, penalty.L2, penalty.Shrink, s1 is null ? 0 : 1);
        // An unused state slot gets the parameter itself: the rule never touches it.
        _k.Update(p.Length, args, V(p), V(g), s0 is null ? V(p) : V(s0, p.Length), s1 is null ? V(p) : V(s1, p.Length));
    }

    public override void SgdUpdate(Tensor p, Tensor g, float learningRate, in WeightPenalty penalty) =>
        Update(UpdateRule.Sgd, learningRate, 0, 0, 0, 0, penalty, p, g, null, null);

    public override void MomentumUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty) =>
        Update(UpdateRule.Momentum, learningRate, momentum, 0, 0, 0, penalty, p, g, velocity, null);

    public override void NesterovUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty) =>
        Update(UpdateRule.Nesterov, learningRate, momentum, 0, 0, 0, penalty, p, g, velocity, null);

    public override void AdaGradUpdate(Tensor p, Tensor g, Tensor sum, float learningRate, float eps, in WeightPenalty penalty) =>
        Update(UpdateRule.AdaGrad, learningRate, eps, 0, 0, 0, penalty, p, g, sum, null);

    public override void RmsPropUpdate(Tensor p, Tensor g, Tensor square, Tensor? buffer, float learningRate, float alpha,
        float eps, float momentum, in WeightPenalty penalty) =>
        Update(UpdateRule.RmsProp, learningRate, alpha, eps, momentum, 1 - alpha, penalty, p, g, square, buffer);

    public override void AdamUpdate(Tensor p, Tensor g, Tensor m, Tensor v, float beta1, float beta2, float eps, float stepSize,
        float correction2Sqrt, in WeightPenalty penalty) =>
        Update(UpdateRule.Adam, beta1, beta2, eps, stepSize, correction2Sqrt, penalty, p, g, m, v);

    /// <summary>
    /// Frees one buffer once no kernel can be using it: under the lock (no launch in progress) and
    /// after the device has finished what was launched. Called by finalizers.
    /// </summary>
    internal void Release(MemoryBuffer memory)
    {
        lock (_gate)
        {
            if (_disposed) return; // the accelerator took its memory with it
            _accelerator.Synchronize();
            memory.Dispose();
        }
    }

    /// <summary>Frees the device memory and the accelerator; the backend cannot be used afterwards.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _accelerator.Dispose();
            _context.Dispose();
        }
    }
}
