using Mnist.Core.Backends.Cpu;
using Mnist.Core.Kernels;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.Backends;

/// <summary>
/// Where tensors live and how every kernel the engine needs runs on them. Layers, the loss and the
/// optimizers call these entry points only; they never touch host arrays in the hot path. Host
/// memory is reached by explicit, counted transfers (<see cref="Upload"/>, <see cref="Download"/>
/// and Tensor's CopyFromHost/CopyToHost): a training step uploads its batch (images and labels)
/// and downloads the loss's two scalars, nothing else. The CPU backend (<see cref="Cpu"/>) is the
/// engine's own kernels; another (the GPU project's) plugs in through <see cref="Devices"/>.
/// Entry points overwrite their outputs unless they say otherwise; sizes are in elements.
/// See docs/backends.md for what must be bit-identical and how to add a backend. New entry points
/// (fused ones, say a convolution with its bias and activation) get a default here that composes
/// the existing ones, so every backend keeps working and each may override it.
/// </summary>
public abstract class Backend
{
    private long _uploads, _uploadedBytes, _downloads, _downloadedBytes, _hostViews;
    // The same counts per calling thread, so a test can watch one thread's work while others run.
    private readonly ThreadLocal<long[]> _threadCounts = new(() => new long[5]);

    /// <summary>The CPU backend: the default of every tensor and layer.</summary>
    public static Backend Cpu => CpuBackend.Instance;

    /// <summary>The kind a run's spec records: "cpu", "cuda", "ilgpu-cpu".</summary>
    public abstract string Kind { get; }

    /// <summary>This device's name ("cpu", "cuda:0"), for messages.</summary>
    public abstract string Name { get; }

    /// <summary>What the device is, for `mnist devices` and logs.</summary>
    public abstract DeviceInfo Describe();

    public override string ToString() => Name;

    // ---- storage and host transfers ----

    /// <summary>Zeroed storage for <paramref name="length"/> floats.</summary>
    public abstract DeviceBuffer Allocate(int length);

    /// <summary>Zeroed storage for <paramref name="length"/> ints (labels, max-pool winners).</summary>
    public abstract DeviceBuffer AllocateIndices(int length);

    /// <summary>Copies host floats into <paramref name="target"/> from element <paramref name="offset"/> on; counted.</summary>
    public void Upload(ReadOnlySpan<float> source, DeviceBuffer target, int offset = 0)
    {
        CheckRange(target, offset, source.Length);
        CountUpload(source.Length);
        UploadCore(source, target, offset);
    }

    /// <summary>Copies <paramref name="target"/>.Length floats of <paramref name="source"/> from element <paramref name="offset"/> to the host; counted.</summary>
    public void Download(DeviceBuffer source, int offset, Span<float> target)
    {
        CheckRange(source, offset, target.Length);
        CountDownload(target.Length);
        DownloadCore(source, offset, target);
    }

    /// <summary>Copies host ints into the start of <paramref name="target"/>; counted.</summary>
    public void Upload(ReadOnlySpan<int> source, DeviceBuffer target)
    {
        CheckRange(target, 0, source.Length);
        CountUpload(source.Length);
        UploadCore(source, target);
    }

    /// <summary>Copies the first <paramref name="target"/>.Length ints of <paramref name="source"/> to the host; counted.</summary>
    public void Download(DeviceBuffer source, Span<int> target)
    {
        CheckRange(source, 0, target.Length);
        CountDownload(target.Length);
        DownloadCore(source, target);
    }

    /// <summary>
    /// The tensor's elements in host memory, without a copy: only where the storage is host memory
    /// (the CPU). Counted, so a test can tell that the hot path never asks. Other backends throw:
    /// use Tensor.CopyToHost and CopyFromHost there.
    /// </summary>
    public Span<float> HostView(Tensor tensor)
    {
        Interlocked.Increment(ref _hostViews);
        _threadCounts.Value![4]++;
        return HostViewCore(tensor);
    }

    /// <summary>Transfers made so far by every user of this backend.</summary>
    public TransferCounts Transfers =>
        new(Interlocked.Read(ref _uploads), Interlocked.Read(ref _uploadedBytes), Interlocked.Read(ref _downloads),
            Interlocked.Read(ref _downloadedBytes), Interlocked.Read(ref _hostViews));

    /// <summary>Transfers the calling thread has made so far.</summary>
    public TransferCounts ThreadTransfers
    {
        get
        {
            var c = _threadCounts.Value!;
            return new(c[0], c[1], c[2], c[3], c[4]);
        }
    }

    private void CountUpload(int elements)
    {
        Interlocked.Increment(ref _uploads);
        Interlocked.Add(ref _uploadedBytes, 4L * elements);
        var c = _threadCounts.Value!;
        c[0]++;
        c[1] += 4L * elements;
    }

    private void CountDownload(int elements)
    {
        Interlocked.Increment(ref _downloads);
        Interlocked.Add(ref _downloadedBytes, 4L * elements);
        var c = _threadCounts.Value!;
        c[2]++;
        c[3] += 4L * elements;
    }

    protected abstract void UploadCore(ReadOnlySpan<float> source, DeviceBuffer target, int offset);
    protected abstract void DownloadCore(DeviceBuffer source, int offset, Span<float> target);
    protected abstract void UploadCore(ReadOnlySpan<int> source, DeviceBuffer target);
    protected abstract void DownloadCore(DeviceBuffer source, Span<int> target);

    protected virtual Span<float> HostViewCore(Tensor tensor) =>
        throw new InvalidOperationException($"{tensor} lives on {Name}: copy it with CopyToHost/CopyFromHost instead of Span");

    private void CheckRange(DeviceBuffer buffer, int offset, int count)
    {
        if (buffer.Backend != this) throw new ArgumentException($"storage of {buffer.Backend} handed to {Name}");
        if (offset < 0 || (long)offset + count > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{count} elements from {offset} do not fit in storage of {buffer.Length}");
    }

    // ---- copies and fills ----

    /// <summary>Every element of <paramref name="tensor"/> set to <paramref name="value"/>.</summary>
    public abstract void Fill(Tensor tensor, float value);

    /// <summary><paramref name="target"/> = <paramref name="source"/> (source.Length elements, same backend).</summary>
    public abstract void Copy(Tensor source, Tensor target);

    // ---- dense layers ----

    /// <summary>
    /// c = op(a)·op(b) + beta·c, row-major: op(a) is m×k, op(b) k×n, c m×n; lda, ldb, ldc are the
    /// row strides as stored. beta = 0 never reads c. Must not split a sum over k across threads
    /// in a way that depends on the thread count (results are bit-identical whatever the threads).
    /// </summary>
    public abstract void Gemm(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb,
        Tensor c, int ldc, float beta = 0f);

    /// <summary>Adds bias[j] to every row of the rows×bias.Length matrix <paramref name="y"/>.</summary>
    public abstract void AddRowBias(Tensor y, int rows, Tensor bias);

    /// <summary>sums[j] = Σ over rows of matrix[row, j] (a dense layer's bias gradient).</summary>
    public abstract void SumRows(Tensor matrix, int rows, Tensor sums);

    // ---- convolutions (NCHW, weights [out, C, k, k]) ----

    /// <summary>y = conv(x, w) + bias per output channel.</summary>
    public abstract void ConvForward(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor w, Tensor bias, Tensor y,
        Workspace workspace);

    /// <summary>dx = the gradient with respect to x, given dy.</summary>
    public abstract void ConvBackwardData(in ConvGeometry g, int outChannels, int batch, Tensor dy, Tensor w, Tensor dx,
        Workspace workspace);

    /// <summary>dw and db = the gradients with respect to the weights and the bias, given x and dy.</summary>
    public abstract void ConvBackwardWeights(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor dy, Tensor dw,
        Tensor db, Workspace workspace);

    /// <summary>
    /// ConvForward followed by MaxPoolForward of its output (pool's planes are the convolution's
    /// output planes) in one pass, where this backend has a fused kernel for the pair: pooled and
    /// argmax exactly as the two calls would leave them, the convolution's own output never written.
    /// False, with nothing done, where it has none (the default): the caller then makes the two calls.
    /// </summary>
    public virtual bool ConvMaxPoolForward(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor w, Tensor bias,
        in PoolGeometry pool, Tensor pooled, IndexBuffer argmax, Workspace workspace) => false;

    /// <summary>
    /// ConvBackwardWeights given the gradient of the max pooling that followed the convolution
    /// (pool's planes are its output planes, argmax its winners) instead of dy itself, where this
    /// backend has a fused kernel for it: dw and db exactly as MaxPoolBackward and then
    /// ConvBackwardWeights would leave them, dy never written. False, with nothing done, where it
    /// has none (the default): the caller then makes the two calls.
    /// </summary>
    public virtual bool ConvMaxPoolBackwardWeights(in ConvGeometry g, int outChannels, int batch, Tensor x, in PoolGeometry pool,
        Tensor pooledGrad, IndexBuffer argmax, Tensor dw, Tensor db, Workspace workspace) => false;

    // ---- pooling ----

    /// <summary>Max pooling; argmax gets each output's winner as a flat index into x (the first maximum in window order).</summary>
    public abstract void MaxPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y, IndexBuffer argmax);

    /// <summary>dx (cleared first) gets each dy at its recorded winner.</summary>
    public abstract void MaxPoolBackward(in PoolGeometry g, int batch, Tensor dy, IndexBuffer argmax, Tensor dx);

    public abstract void AvgPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y);

    /// <summary>dx (cleared first) gets each dy shared equally over its window.</summary>
    public abstract void AvgPoolBackward(in PoolGeometry g, int batch, Tensor dy, Tensor dx);

    /// <summary>y[p] = the largest of plane p's <paramref name="planeSize"/> elements (the first on ties), argmax[p] its flat index into x.</summary>
    public abstract void GlobalMaxPoolForward(Tensor x, int planes, int planeSize, Tensor y, IndexBuffer argmax);

    /// <summary>dx (planes × planeSize, cleared first) gets dy[p] at argmax[p].</summary>
    public abstract void GlobalMaxPoolBackward(Tensor dy, IndexBuffer argmax, int planes, int planeSize, Tensor dx);

    // ---- element-wise ----

    /// <summary>y = f(x), x.Length elements.</summary>
    public abstract void Activate(ActivationFunction f, Tensor x, Tensor y);

    /// <summary>dx = dy · f′(x), given x and the y that <see cref="Activate"/> produced.</summary>
    public abstract void ActivateBackward(ActivationFunction f, Tensor x, Tensor y, Tensor dy, Tensor dx);

    /// <summary>y += a·x.</summary>
    public abstract void Axpy(float a, Tensor x, Tensor y);

    /// <summary>y = a + b, element by element (a residual sum). The default copies a and adds b (two passes).</summary>
    public virtual void Add(Tensor a, Tensor b, Tensor y)
    {
        Copy(a, y);
        Axpy(1f, b, y);
    }

    /// <summary>y = a ⊙ b, element by element.</summary>
    public abstract void Multiply(Tensor a, Tensor b, Tensor y);

    /// <summary>
    /// An inverted-dropout mask over mask.Length elements: 1/(1 − p) where the element's uniform
    /// number in [0, 1) is at least p, else 0, the numbers taken from <paramref name="random"/> in
    /// element order.
    /// </summary>
    public abstract void DropoutMask(Tensor mask, float p, in RandomStream random);

    /// <summary>
    /// Inverted dropout in training: <paramref name="mask"/> as <see cref="DropoutMask"/> makes it
    /// and y = x ⊙ mask. The default makes the mask and multiplies (two passes); a backend may do both in one.
    /// </summary>
    public virtual void DropoutForward(Tensor x, Tensor mask, float p, in RandomStream random, Tensor y)
    {
        DropoutMask(mask, p, random);
        Multiply(x, mask, y);
    }

    // ---- batch norm over [batch, channels, plane] ----

    /// <summary>
    /// The batch's per-channel mean and 1/√(biased variance + ε) (summed in float64, two passes),
    /// and the running statistics moved toward them by <paramref name="momentum"/> (the running
    /// variance unbiased).
    /// </summary>
    public abstract void BatchNormStatistics(Tensor x, int batch, int channels, int plane, float momentum, float epsilon,
        Tensor runningMean, Tensor runningVar, Tensor mean, Tensor invStd);

    /// <summary>
    /// A training pass: <see cref="BatchNormStatistics"/> and then <see cref="BatchNormApply"/> with
    /// the batch's statistics. The default calls the two; a backend may normalise each channel while
    /// its values are still in cache.
    /// </summary>
    public virtual void BatchNormTrainingForward(Tensor x, int batch, int channels, int plane, float momentum, float epsilon,
        Tensor runningMean, Tensor runningVar, Tensor mean, Tensor invStd, Tensor gamma, Tensor beta, Tensor xhat, Tensor y)
    {
        BatchNormStatistics(x, batch, channels, plane, momentum, epsilon, runningMean, runningVar, mean, invStd);
        BatchNormApply(x, batch, channels, plane, mean, invStd, gamma, beta, xhat, y);
    }

    /// <summary>invStd = 1/√(variance + ε) per channel (evaluation's statistics).</summary>
    public abstract void BatchNormInverseStd(Tensor variance, float epsilon, Tensor invStd);

    /// <summary>xhat = (x − mean)·invStd and y = γ·xhat + β, per channel.</summary>
    public abstract void BatchNormApply(Tensor x, int batch, int channels, int plane, Tensor mean, Tensor invStd,
        Tensor gamma, Tensor beta, Tensor xhat, Tensor y);

    /// <summary>
    /// dβ = Σ dy and dγ = Σ dy·xhat per channel (float64 sums); when <paramref name="dx"/> is
    /// given, dx = γ·invStd·(dy − mean(dy) − xhat·mean(dy·xhat)) in training, γ·invStd·dy in evaluation.
    /// </summary>
    public abstract void BatchNormBackward(Tensor dy, Tensor xhat, Tensor gamma, Tensor invStd, int batch, int channels,
        int plane, bool training, Tensor dGamma, Tensor dBeta, Tensor? dx);

    // ---- the loss ----

    /// <summary>
    /// Softmax of each row of logits into probabilities, and the batch's mean cross-entropy and
    /// argmax hits (the first maximum on ties): the two scalars a training step downloads, counted
    /// as one download. With label smoothing ε (in [0, 1); PyTorch's <c>label_smoothing</c>) the
    /// target of a row is t_j = ε/K + (1 − ε)·[j = label] over K classes. With m the row's maximum
    /// and S = Σ_j exp(z_j − m), the row's loss is Σ_j −t_j·log p_j =
    /// log S − [(1 − ε)·(z_label − m) + (ε/K)·Σ_j (z_j − m)], everything after S in float64 and
    /// summed over the batch in float64 before dividing by the batch size; ε = 0 leaves out the
    /// bracket's smoothing term altogether (log S − (z_label − m), the plain cross-entropy).
    /// </summary>
    public LossResult SoftmaxCrossEntropy(Tensor logits, IndexBuffer labels, int batch, int classes, float smoothing, Tensor probabilities)
    {
        var result = SoftmaxCrossEntropyCore(logits, labels, batch, classes, smoothing, probabilities);
        CountDownload(2);
        return result;
    }

    /// <summary>See <see cref="SoftmaxCrossEntropy"/>: compute, and bring the two scalars to the host.</summary>
    protected abstract LossResult SoftmaxCrossEntropyCore(Tensor logits, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor probabilities);

    /// <summary>
    /// gradient = (probabilities − t) / batch with the smoothed target t of
    /// <see cref="SoftmaxCrossEntropy"/>, in float32 as: inv = 1/batch, every element
    /// p·inv − ε·inv/K, then the label's element minus (1 − ε)·inv. With ε = 0 that is
    /// p·inv, and p·inv − inv at the label.
    /// </summary>
    public abstract void SoftmaxCrossEntropyBackward(Tensor probabilities, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor gradient);

    // ---- averages ----

    /// <summary>
    /// An exponential moving average step, in place: average ← average·decay + value·(1 − decay),
    /// computed as two <see cref="Axpy"/> steps, average += (decay − 1)·average, then
    /// average += (1 − decay)·value (the default here; a backend may fuse them with the same arithmetic).
    /// </summary>
    public virtual void MovingAverage(Tensor average, Tensor value, float decay)
    {
        Axpy(decay - 1f, average, average);
        Axpy(1f - decay, value, average);
    }

    // ---- optimizer updates, in place (PyTorch's rules; see the optimizer classes) ----

    /// <summary>p ← p·shrink − lr·g′ with g′ = g + the penalty's gradient.</summary>
    public abstract void SgdUpdate(Tensor p, Tensor g, float learningRate, in WeightPenalty penalty);

    /// <summary>v ← μ·v + g′; p ← p·shrink − lr·v.</summary>
    public abstract void MomentumUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty);

    /// <summary>v ← μ·v + g′; p ← p·shrink − lr·(g′ + μ·v).</summary>
    public abstract void NesterovUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty);

    /// <summary>s ← s + g′²; p ← p·shrink − lr·g′/(√s + ε).</summary>
    public abstract void AdaGradUpdate(Tensor p, Tensor g, Tensor sum, float learningRate, float eps, in WeightPenalty penalty);

    /// <summary>s ← α·s + (1−α)·g′²; u = g′/(√s + ε); with momentum μ &gt; 0 (and a buffer) b ← μ·b + u, u = b; p ← p·shrink − lr·u.</summary>
    public abstract void RmsPropUpdate(Tensor p, Tensor g, Tensor square, Tensor? buffer, float learningRate, float alpha,
        float eps, float momentum, in WeightPenalty penalty);

    /// <summary>m ← β1·m + (1−β1)·g′; v ← β2·v + (1−β2)·g′²; p ← p·shrink − stepSize·m/(√v/correction2Sqrt + ε).</summary>
    public abstract void AdamUpdate(Tensor p, Tensor g, Tensor m, Tensor v, float beta1, float beta2, float eps, float stepSize,
        float correction2Sqrt, in WeightPenalty penalty);
}
