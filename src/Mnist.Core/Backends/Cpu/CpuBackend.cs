using System.Numerics;
using Mnist.Core.Kernels;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.Backends.Cpu;

/// <summary>
/// The engine's own kernels (<see cref="Kernels"/>) behind the backend seam. Storage is host
/// arrays, so Tensor.Span is the memory itself (counted as a host view) and transfers are plain
/// copies. Dropout masks come from the Philox stream every backend shares.
/// </summary>
public sealed class CpuBackend : Backend
{
    public static CpuBackend Instance { get; } = new();

    private CpuBackend() { }

    public override string Kind => DeviceName.Cpu;
    public override string Name => DeviceName.Cpu;
    public override DeviceInfo Describe() => CpuDescription.Of();

    // ---- storage ----

    public override DeviceBuffer Allocate(int length) => new CpuBuffer<float>(new float[length]);
    public override DeviceBuffer AllocateIndices(int length) => new CpuBuffer<int>(new int[length]);

    /// <summary>Wraps a host array without copying it.</summary>
    internal static DeviceBuffer Wrap(float[] array) => new CpuBuffer<float>(array);

    protected override void UploadCore(ReadOnlySpan<float> source, DeviceBuffer target, int offset) =>
        source.CopyTo(Floats(target).AsSpan(offset));

    protected override void DownloadCore(DeviceBuffer source, int offset, Span<float> target) =>
        Floats(source).AsSpan(offset, target.Length).CopyTo(target);

    protected override void UploadCore(ReadOnlySpan<int> source, DeviceBuffer target) => source.CopyTo(Ints(target));

    protected override void DownloadCore(DeviceBuffer source, Span<int> target) => Ints(source).AsSpan(0, target.Length).CopyTo(target);

    protected override Span<float> HostViewCore(Tensor tensor) => Host(tensor);

    private static float[] Floats(DeviceBuffer buffer) =>
        buffer as CpuBuffer<float> is { } cpu ? cpu.Array : throw Foreign(buffer);

    private static int[] Ints(DeviceBuffer buffer) =>
        buffer as CpuBuffer<int> is { } cpu ? cpu.Array : throw Foreign(buffer);

    private static ArgumentException Foreign(DeviceBuffer buffer) =>
        new($"storage of {buffer.Backend} ({buffer.GetType().Name}) handed to the CPU backend");

    /// <summary>The tensor's elements (its Length of them).</summary>
    private static Span<float> Host(Tensor t) => Floats(t.Storage).AsSpan(0, t.Length);

    private static Span<int> Host(IndexBuffer b) => Ints(b.Storage).AsSpan(0, b.Length);

    // ---- copies and fills ----

    public override void Fill(Tensor tensor, float value) => Host(tensor).Fill(value);

    public override void Copy(Tensor source, Tensor target) => Host(source).CopyTo(Floats(target.Storage));

    // ---- dense ----

    public override void Gemm(bool transA, bool transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb,
        Tensor c, int ldc, float beta = 0f) =>
        Kernels.Gemm.Sgemm(transA, transB, m, n, k, Host(a), lda, Host(b), ldb, Host(c), ldc, beta);

    public override void AddRowBias(Tensor y, int rows, Tensor bias) => Elementwise.AddRowBias(Host(y), rows, Host(bias));

    public override void SumRows(Tensor matrix, int rows, Tensor sums) => Elementwise.SumRows(Host(matrix), rows, Host(sums));

    // ---- convolutions ----

    public override void ConvForward(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor w, Tensor bias, Tensor y,
        Workspace workspace) =>
        Convolution.Forward(g, outChannels, batch, Host(x), Host(w), Host(bias), Host(y), workspace);

    public override void ConvBackwardData(in ConvGeometry g, int outChannels, int batch, Tensor dy, Tensor w, Tensor dx,
        Workspace workspace) =>
        Convolution.BackwardData(g, outChannels, batch, Host(dy), Host(w), Host(dx), workspace);

    public override void ConvBackwardWeights(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor dy, Tensor dw,
        Tensor db, Workspace workspace) =>
        Convolution.BackwardWeights(g, outChannels, batch, Host(x), Host(dy), Host(dw), Host(db), workspace);

    public override bool ConvMaxPoolForward(in ConvGeometry g, int outChannels, int batch, Tensor x, Tensor w, Tensor bias,
        in PoolGeometry pool, Tensor pooled, IndexBuffer argmax, Workspace workspace) =>
        Convolution.ForwardPooled(g, outChannels, batch, Host(x), Host(w), Host(bias), pool, Host(pooled), Host(argmax), workspace);

    public override bool ConvMaxPoolBackwardWeights(in ConvGeometry g, int outChannels, int batch, Tensor x, in PoolGeometry pool,
        Tensor pooledGrad, IndexBuffer argmax, Tensor dw, Tensor db, Workspace workspace) =>
        Convolution.BackwardWeightsPooled(g, outChannels, batch, Host(x), pool, Host(pooledGrad), Host(argmax), Host(dw), Host(db), workspace);

    // ---- pooling ----

    public override void MaxPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y, IndexBuffer argmax) =>
        Pooling.MaxForward(g, batch, Host(x), Host(y), Host(argmax));

    public override void MaxPoolBackward(in PoolGeometry g, int batch, Tensor dy, IndexBuffer argmax, Tensor dx) =>
        Pooling.MaxBackward(g, batch, Host(dy), Host(argmax), Host(dx));

    public override void AvgPoolForward(in PoolGeometry g, int batch, Tensor x, Tensor y) =>
        Pooling.AvgForward(g, batch, Host(x), Host(y));

    public override void AvgPoolBackward(in PoolGeometry g, int batch, Tensor dy, Tensor dx) =>
        Pooling.AvgBackward(g, batch, Host(dy), Host(dx));

    public override void GlobalMaxPoolForward(Tensor x, int planes, int planeSize, Tensor y, IndexBuffer argmax)
    {
        var xs = Host(x);
        var ys = Host(y);
        var winners = Host(argmax);
        for (int p = 0; p < planes; p++)
        {
            int best = p * planeSize;
            for (int i = best + 1; i < (p + 1) * planeSize; i++) if (xs[i] > xs[best]) best = i;
            winners[p] = best;
            ys[p] = xs[best];
        }
    }

    public override void GlobalMaxPoolBackward(Tensor dy, IndexBuffer argmax, int planes, int planeSize, Tensor dx)
    {
        var d = Host(dx);
        var g = Host(dy);
        var winners = Host(argmax);
        d[..(planes * planeSize)].Clear();
        for (int p = 0; p < planes; p++) d[winners[p]] = g[p];
    }

    // ---- element-wise ----

    public override void Activate(ActivationFunction f, Tensor x, Tensor y) => ActivationKernels.Apply(f, Host(x), Host(y));

    public override void ActivateBackward(ActivationFunction f, Tensor x, Tensor y, Tensor dy, Tensor dx) =>
        ActivationKernels.Derive(f, Host(x), Host(y), Host(dy), Host(dx));

    public override void Axpy(float a, Tensor x, Tensor y) => Elementwise.Axpy(a, Host(x), Host(y));

    public override void Add(Tensor a, Tensor b, Tensor y) => Elementwise.Add(Host(a), Host(b), Host(y));

    public override void Multiply(Tensor a, Tensor b, Tensor y)
    {
        var xa = Host(a);
        var xb = Host(b);
        var ys = Floats(y.Storage).AsSpan(0, xa.Length);
        int i = 0, w = Vector<float>.Count;
        for (; i <= xa.Length - w; i += w) (new Vector<float>(xa[i..]) * new Vector<float>(xb[i..])).CopyTo(ys[i..]);
        for (; i < xa.Length; i++) ys[i] = xa[i] * xb[i];
    }

    public override void DropoutMask(Tensor mask, float p, in RandomStream random) =>
        DropoutKernels.Forward(default, Host(mask), p, random, default);

    public override void DropoutForward(Tensor x, Tensor mask, float p, in RandomStream random, Tensor y) =>
        DropoutKernels.Forward(Host(x), Host(mask), p, random, Host(y));

    // ---- batch norm ----

    public override void BatchNormStatistics(Tensor x, int batch, int channels, int plane, float momentum, float epsilon,
        Tensor runningMean, Tensor runningVar, Tensor mean, Tensor invStd) =>
        BatchNormKernels.Statistics(Host(x), batch, channels, plane, momentum, epsilon, Host(runningMean), Host(runningVar),
            Host(mean), Host(invStd));

    public override void BatchNormTrainingForward(Tensor x, int batch, int channels, int plane, float momentum, float epsilon,
        Tensor runningMean, Tensor runningVar, Tensor mean, Tensor invStd, Tensor gamma, Tensor beta, Tensor xhat, Tensor y) =>
        BatchNormKernels.TrainingForward(Host(x), batch, channels, plane, momentum, epsilon, Host(runningMean), Host(runningVar),
            Host(mean), Host(invStd), Host(gamma), Host(beta), Host(xhat), Host(y));

    public override void BatchNormInverseStd(Tensor variance, float epsilon, Tensor invStd) =>
        BatchNormKernels.InverseStd(Host(variance), epsilon, Host(invStd));

    public override void BatchNormApply(Tensor x, int batch, int channels, int plane, Tensor mean, Tensor invStd,
        Tensor gamma, Tensor beta, Tensor xhat, Tensor y) =>
        BatchNormKernels.Apply(Host(x), batch, channels, plane, Host(mean), Host(invStd), Host(gamma), Host(beta), Host(xhat), Host(y));

    public override void BatchNormBackward(Tensor dy, Tensor xhat, Tensor gamma, Tensor invStd, int batch, int channels,
        int plane, bool training, Tensor dGamma, Tensor dBeta, Tensor? dx) =>
        BatchNormKernels.Backward(Host(dy), Host(xhat), Host(gamma), Host(invStd), batch, channels, plane, training,
            Host(dGamma), Host(dBeta), dx is null ? default : Host(dx));

    // ---- the loss ----

    protected override LossResult SoftmaxCrossEntropyCore(Tensor logits, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor probabilities)
    {
        var z = Host(logits);
        var p = Host(probabilities);
        var truth = Host(labels);
        double total = 0;
        int correct = 0;
        for (int n = 0; n < batch; n++)
        {
            var row = z.Slice(n * classes, classes);
            int best = Losses.SoftmaxCrossEntropy.ArgMax(row);
            float max = row[best];
            double sum = Losses.SoftmaxCrossEntropy.Softmax(row, max, p.Slice(n * classes, classes));
            int label = truth[n];
            // −Σ t·log softmax = log Σ exp(z − max) − target, the sum ≥ 1; target = z_label − max unsmoothed.
            double target = (double)row[label] - max;
            if (smoothing != 0)
            {
                double all = 0;
                foreach (float v in row) all += (double)v - max;
                target = (1 - (double)smoothing) * target + (double)smoothing / classes * all;
            }
            total += Math.Log(sum) - target;
            if (best == label) correct++;
        }
        return new LossResult((float)(total / batch), correct, batch);
    }

    public override void SoftmaxCrossEntropyBackward(Tensor probabilities, IndexBuffer labels, int batch, int classes, float smoothing,
        Tensor gradient)
    {
        var p = Host(probabilities);
        var d = Host(gradient);
        var truth = Host(labels);
        float inv = 1f / batch;
        float spread = smoothing * inv / classes, hit = (1 - smoothing) * inv;
        for (int i = 0; i < d.Length; i++) d[i] = p[i] * inv - spread;
        for (int n = 0; n < batch; n++) d[n * classes + truth[n]] -= hit;
    }

    // ---- optimizer updates ----

    public override void SgdUpdate(Tensor p, Tensor g, float learningRate, in WeightPenalty penalty) =>
        UpdateLoop.Run(new SgdRule(penalty, learningRate), Host(p), Host(g), default, default);

    public override void MomentumUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty) =>
        UpdateLoop.Run(new MomentumRule(penalty, learningRate, momentum), Host(p), Host(g), Host(velocity), default);

    public override void NesterovUpdate(Tensor p, Tensor g, Tensor velocity, float learningRate, float momentum, in WeightPenalty penalty) =>
        UpdateLoop.Run(new NesterovRule(penalty, learningRate, momentum), Host(p), Host(g), Host(velocity), default);

    public override void AdaGradUpdate(Tensor p, Tensor g, Tensor sum, float learningRate, float eps, in WeightPenalty penalty) =>
        UpdateLoop.Run(new AdaGradRule(penalty, learningRate, eps), Host(p), Host(g), Host(sum), default);

    public override void RmsPropUpdate(Tensor p, Tensor g, Tensor square, Tensor? buffer, float learningRate, float alpha,
        float eps, float momentum, in WeightPenalty penalty) =>
        UpdateLoop.Run(new RmsPropRule(penalty, learningRate, alpha, eps, momentum), Host(p), Host(g), Host(square),
            buffer is null ? default : Host(buffer));

    public override void AdamUpdate(Tensor p, Tensor g, Tensor m, Tensor v, float beta1, float beta2, float eps, float stepSize,
        float correction2Sqrt, in WeightPenalty penalty) =>
        UpdateLoop.Run(new AdamRule(penalty, beta1, beta2, eps, stepSize, correction2Sqrt), Host(p), Host(g), Host(m), Host(v));
}
