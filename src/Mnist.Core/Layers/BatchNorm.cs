using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Batch norm: 1-D after a flat input, 2-D after an image-shaped one.</summary>
public sealed record BatchNormSpec(float Momentum = 0.1f, float Epsilon = 1e-5f) : LayerSpec;

/// <summary>"batchnorm": a <see cref="BatchNorm1D"/> after a [features] input, a <see cref="BatchNorm2D"/> after [C, H, W].</summary>
internal sealed class BatchNormKind : LayerKind<BatchNormSpec, BatchNorm>
{
    public override string Name => "batchnorm";

    protected override BatchNorm Build(BatchNormSpec s, LayerContext context) => context.InputShape.Length switch
    {
        1 => new BatchNorm1D(context.InputShape[0], s.Momentum, s.Epsilon, context.Backend),
        3 => new BatchNorm2D(context.InputShape[0], s.Momentum, s.Epsilon, context.Backend),
        _ => throw new MnistException($"batchnorm needs a [features] or [C, H, W] input, not {Tensor.ShapeText(context.InputShape)}"),
    };

    /// <summary>Epsilon must be positive: the variance is divided by its root.</summary>
    private protected override long CheckedParameters(BatchNormSpec s, int[] inputShape)
    {
        if (!(s.Epsilon > 0f && float.IsFinite(s.Epsilon)))
            throw new MnistException($"batchnorm epsilon must be a positive number (got {s.Epsilon})");
        return 4 * ModelLimits.Channels(inputShape);
    }

    /// <summary>Batch statistics in training (the running ones untouched), running statistics in evaluation.</summary>
    private protected override Float64Tensor Float64(BatchNorm bn, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int batch = input.Batch, channels = bn.Channels, plane = x.Length / (batch * channels);
        var (gamma, beta) = (bn.Gamma.Value.ToArray(), bn.Beta.Value.ToArray());
        var (runningMean, runningVar) = (bn.RunningMean.ToArray(), bn.RunningVar.ToArray());
        var y = new double[x.Length];
        for (int c = 0; c < channels; c++)
        {
            double mean, variance;
            if (pass.Training)
            {
                double sum = 0, sq = 0;
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < plane; i++) sum += x[(b * channels + c) * plane + i];
                mean = sum / (batch * plane);
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < plane; i++)
                    {
                        double d = x[(b * channels + c) * plane + i] - mean;
                        sq += d * d;
                    }
                variance = sq / (batch * plane);
            }
            else
            {
                mean = runningMean[c];
                variance = runningVar[c];
            }
            double scale = gamma[c] / Math.Sqrt(variance + bn.Epsilon);
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < plane; i++)
                {
                    int j = (b * channels + c) * plane + i;
                    y[j] = (x[j] - mean) * scale + beta[c];
                }
        }
        return input with { Values = y };
    }

    /// <summary>BatchNormalization in inference mode: the running statistics and ε, on [N, C] or [N, C, H, W] alike.</summary>
    private protected override string ToOnnx(BatchNorm bn, OnnxExporter onnx, OnnxValue x, string name) =>
        onnx.Graph.Node("BatchNormalization",
            [x.Name, onnx.Weight(name, bn.Gamma), onnx.Weight(name, bn.Beta), onnx.Weight(name, "running_mean", bn.RunningMean), onnx.Weight(name, "running_var", bn.RunningVar)],
            OnnxAttribute.Of("epsilon", bn.Epsilon));

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("batchnorm1d in training", b => new BatchNorm1D(5, backend: b), LayerCheck.Gaussian(0f, 6, 5)),
        new("batchnorm2d in training", b => new BatchNorm2D(3, backend: b), LayerCheck.Gaussian(0f, 3, 3, 4, 4)),
        new("batchnorm2d in evaluation", Trained2D, LayerCheck.Gaussian(0f, 2, 3, 3, 3), Training: false),
    ];

    /// <summary>Batch norm with running statistics from one training pass, for its evaluation mode.</summary>
    private static Layer Trained2D(Backend backend)
    {
        var bn = new BatchNorm2D(3, backend: backend);
        bn.Forward(RandomInputs.Gaussian(3, 0f, 4, 3, 3, 3).To(backend), true);
        return bn;
    }
}

/// <summary>
/// Batch normalisation per channel: y = γ·(x − μ)/√(σ² + ε) + β. Training uses the batch's
/// mean and (biased) variance and moves the running statistics toward them by
/// <see cref="Momentum"/> (running variance unbiased, as PyTorch does); evaluation uses the
/// running statistics. A channel's values are the [N, plane] slice: plane = 1 for
/// <see cref="BatchNorm1D"/>, H·W for <see cref="BatchNorm2D"/>.
/// </summary>
public abstract class BatchNorm : Layer
{
    private readonly Tensor _output;
    private readonly Tensor _gradInput;
    private readonly Tensor _normalized;
    private readonly Tensor _mean, _invStd;
    private bool _trainingPass;
    private int _batch, _plane;

    protected BatchNorm(int channels, float momentum, float epsilon, Backend? backend) : base(backend)
    {
        if (channels < 1) throw new MnistException($"batchnorm needs at least one channel (got {channels})");
        if (!(momentum >= 0f && momentum <= 1f)) throw new MnistException($"batchnorm momentum must be in [0, 1] (got {momentum})");
        Channels = channels;
        Momentum = momentum;
        Epsilon = epsilon;
        Gamma = new Parameter("weight", new Tensor(Backend, channels)) { Decay = false };
        Beta = new Parameter("bias", new Tensor(Backend, channels)) { Decay = false };
        Backend.Fill(Gamma.Value, 1f);
        RunningMean = new Tensor(Backend, channels);
        RunningVar = new Tensor(Backend, channels);
        Backend.Fill(RunningVar, 1f);
        _mean = new Tensor(Backend, channels);
        _invStd = new Tensor(Backend, channels);
        _output = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
        _normalized = OwnedBuffers.Empty(Backend);
    }

    public int Channels { get; }
    public float Momentum { get; }
    public float Epsilon { get; }
    public Parameter Gamma { get; }
    public Parameter Beta { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }

    public override IEnumerable<Parameter> Parameters => [Gamma, Beta];

    public override IEnumerable<(string Name, Tensor Value)> Buffers => [("running_mean", RunningMean), ("running_var", RunningVar)];

    public override int[] OutputShape(int[] inputShape) => inputShape;

    /// <summary>Checks the input's rank and channel count for the concrete layer.</summary>
    protected abstract void CheckInput(Tensor input);

    public override Tensor Forward(Tensor input, bool training)
    {
        CheckInput(input);
        _batch = input.Dim(0);
        _plane = input.Length / Math.Max(1, _batch * Channels);
        _trainingPass = training;
        var xhat = OwnedBuffers.ShapeLike(_normalized, input);
        var y = OwnedBuffers.ShapeLike(_output, input);
        if (training)
        {
            if (_batch * _plane < 2) throw new MnistException($"{this} in training needs more than one value per channel (got batch {_batch})");
            Backend.BatchNormTrainingForward(input, _batch, Channels, _plane, Momentum, Epsilon, RunningMean, RunningVar, _mean, _invStd,
                Gamma.Value, Beta.Value, xhat, y);
        }
        else
        {
            Backend.BatchNormInverseStd(RunningVar, Epsilon, _invStd);
            Backend.BatchNormApply(input, _batch, Channels, _plane, RunningMean, _invStd, Gamma.Value, Beta.Value, xhat, y);
        }
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var dx = ComputeInputGradient ? OwnedBuffers.ShapeLike(_gradInput, gradOutput) : null;
        Backend.BatchNormBackward(gradOutput, _normalized, Gamma.Value, _invStd, _batch, Channels, _plane, _trainingPass,
            Gamma.Grad, Beta.Grad, dx);
        return _gradInput;
    }
}
