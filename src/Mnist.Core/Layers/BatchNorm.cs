using Mnist.Core.GradCheck;
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
        1 => new BatchNorm1D(context.InputShape[0], s.Momentum, s.Epsilon),
        3 => new BatchNorm2D(context.InputShape[0], s.Momentum, s.Epsilon),
        _ => throw new MnistException($"batchnorm needs a [features] or [C, H, W] input, not {Tensor.ShapeText(context.InputShape)}"),
    };

    /// <summary>Batch statistics in training (the running ones untouched), running statistics in evaluation.</summary>
    private protected override Float64Tensor Float64(BatchNorm bn, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int batch = input.Batch, channels = bn.Channels, plane = x.Length / (batch * channels);
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
                mean = bn.RunningMean[c];
                variance = bn.RunningVar[c];
            }
            double scale = bn.Gamma.Value[c] / Math.Sqrt(variance + bn.Epsilon);
            for (int b = 0; b < batch; b++)
                for (int i = 0; i < plane; i++)
                {
                    int j = (b * channels + c) * plane + i;
                    y[j] = (x[j] - mean) * scale + bn.Beta.Value[c];
                }
        }
        return input with { Values = y };
    }

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("batchnorm1d in training", () => new BatchNorm1D(5), LayerCheck.Gaussian(0f, 6, 5)),
        new("batchnorm2d in training", () => new BatchNorm2D(3), LayerCheck.Gaussian(0f, 3, 3, 4, 4)),
        new("batchnorm2d in evaluation", Trained2D, LayerCheck.Gaussian(0f, 2, 3, 3, 3), Training: false),
    ];

    /// <summary>Batch norm with running statistics from one training pass, for its evaluation mode.</summary>
    private static Layer Trained2D()
    {
        var bn = new BatchNorm2D(3);
        bn.Forward(RandomInputs.Gaussian(3, 0f, 4, 3, 3, 3), true);
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
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private readonly Tensor _normalized = OwnedBuffers.Empty();
    private readonly float[] _invStd;
    private bool _trainingPass;
    private int _batch, _plane;

    protected BatchNorm(int channels, float momentum, float epsilon)
    {
        if (channels < 1) throw new MnistException($"batchnorm needs at least one channel (got {channels})");
        if (!(momentum >= 0f && momentum <= 1f)) throw new MnistException($"batchnorm momentum must be in [0, 1] (got {momentum})");
        Channels = channels;
        Momentum = momentum;
        Epsilon = epsilon;
        Gamma = new Parameter("weight", new Tensor(channels)) { Decay = false };
        Beta = new Parameter("bias", new Tensor(channels)) { Decay = false };
        Gamma.Value.Span.Fill(1f);
        RunningMean = new Tensor(channels);
        RunningVar = new Tensor(channels);
        RunningVar.Span.Fill(1f);
        _invStd = new float[channels];
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
        var x = input.Span;
        var xhat = OwnedBuffers.ShapeLike(_normalized, input).Span;
        var y = OwnedBuffers.ShapeLike(_output, input).Span;
        var gamma = Gamma.Value.Span;
        var beta = Beta.Value.Span;
        int count = _batch * _plane;
        for (int c = 0; c < Channels; c++)
        {
            float mean, invStd;
            if (training)
            {
                if (count < 2) throw new MnistException($"{this} in training needs more than one value per channel (got batch {_batch})");
                // Two passes in double: the variance of 50k floats should not lose digits.
                double sum = 0;
                for (int n = 0; n < _batch; n++)
                    foreach (float v in x.Slice((n * Channels + c) * _plane, _plane)) sum += v;
                double mu = sum / count, sq = 0;
                for (int n = 0; n < _batch; n++)
                    foreach (float v in x.Slice((n * Channels + c) * _plane, _plane)) sq += (v - mu) * (v - mu);
                double variance = sq / count;
                mean = (float)mu;
                invStd = (float)(1.0 / Math.Sqrt(variance + Epsilon));
                RunningMean[c] = (1f - Momentum) * RunningMean[c] + Momentum * mean;
                RunningVar[c] = (1f - Momentum) * RunningVar[c] + Momentum * (float)(variance * count / (count - 1));
            }
            else
            {
                mean = RunningMean[c];
                invStd = 1f / MathF.Sqrt(RunningVar[c] + Epsilon);
            }
            _invStd[c] = invStd;
            for (int n = 0; n < _batch; n++)
            {
                int start = (n * Channels + c) * _plane;
                for (int i = start; i < start + _plane; i++)
                {
                    xhat[i] = (x[i] - mean) * invStd;
                    y[i] = gamma[c] * xhat[i] + beta[c];
                }
            }
        }
        return _output;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var dy = gradOutput.Span;
        var xhat = _normalized.Span;
        var gamma = Gamma.Value.Span;
        var dGamma = Gamma.Grad.Span;
        var dBeta = Beta.Grad.Span;
        var dx = ComputeInputGradient ? OwnedBuffers.ShapeLike(_gradInput, gradOutput).Span : default;
        int count = _batch * _plane;
        for (int c = 0; c < Channels; c++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int n = 0; n < _batch; n++)
            {
                int start = (n * Channels + c) * _plane;
                for (int i = start; i < start + _plane; i++)
                {
                    sumDy += dy[i];
                    sumDyXhat += dy[i] * xhat[i];
                }
            }
            dBeta[c] = (float)sumDy;
            dGamma[c] = (float)sumDyXhat;
            if (!ComputeInputGradient) continue;
            float scale = gamma[c] * _invStd[c];
            // Training: the batch statistics depend on x too, which removes the gradient's mean
            // and its projection on x̂: dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
            float meanDy = _trainingPass ? (float)(sumDy / count) : 0f;
            float meanDyXhat = _trainingPass ? (float)(sumDyXhat / count) : 0f;
            for (int n = 0; n < _batch; n++)
            {
                int start = (n * Channels + c) * _plane;
                for (int i = start; i < start + _plane; i++)
                    dx[i] = scale * (dy[i] - meanDy - xhat[i] * meanDyXhat);
            }
        }
        return _gradInput;
    }
}
