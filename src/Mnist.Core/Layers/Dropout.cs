using Mnist.Core.GradCheck;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Dropout with drop probability <paramref name="P"/>.</summary>
public sealed record DropoutSpec(float P) : LayerSpec;

/// <summary>"dropout": a <see cref="Dropout"/> with a generator of its own, split from the model's seed.</summary>
internal sealed class DropoutKind : LayerKind<DropoutSpec, Dropout>
{
    public override string Name => "dropout";

    protected override Dropout Build(DropoutSpec s, LayerContext context) => new(s.P, context.NewGenerator());

    /// <summary>Reuses the mask of the layer's last training pass.</summary>
    private protected override Float64Tensor Float64(Dropout drop, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        var mask = drop.LastMask;
        if (!pass.Training || drop.P == 0f) return input;
        if (mask.Length != x.Length) throw new InvalidOperationException("run the model's training forward pass first: the reference reuses its dropout mask");
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * mask[i];
        return input with { Values = y };
    }

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("dropout in evaluation", () => new Dropout(0.5f, new Rng(1)), LayerCheck.Gaussian(0f, 3, 10), Training: false),
        // Every float32 pass draws the same mask; the float64 reference reuses the layer's.
        new("dropout in training with a fixed mask", () => new Dropout(0.4f, new Rng(9)), () => RandomInputs.Gaussian(4, 0f, 3, 20),
            BeforeForward: layer => ((Dropout)layer).Rng.State = new Rng(9).State),
    ];
}

/// <summary>
/// Inverted dropout: in training each element is kept with probability 1 − p and scaled by
/// 1/(1 − p), so evaluation is the identity. The mask comes from the layer's own <see cref="Rng"/>,
/// so a seed fixes every mask of a run.
/// </summary>
public sealed class Dropout : Layer
{
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _mask = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private bool _masked;

    public Dropout(float p, Rng rng)
    {
        if (!(p >= 0f && p < 1f)) throw new MnistException($"dropout probability must be in [0, 1) (got {p})");
        P = p;
        Rng = rng;
    }

    public float P { get; }

    /// <summary>The generator that draws the masks (its <see cref="Rng.State"/> can be saved and restored).</summary>
    public Rng Rng { get; }

    /// <summary>The last training pass's mask (0 or 1/(1 − p) per element), for the float64 reference.</summary>
    internal ReadOnlySpan<float> LastMask => _masked ? _mask.Span : default;

    public override int[] OutputShape(int[] inputShape) => inputShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        _masked = training && P > 0f;
        // Evaluation: identity, handing the input itself on.
        if (!_masked) return input;
        var mask = OwnedBuffers.ShapeLike(_mask, input).Span;
        var y = OwnedBuffers.ShapeLike(_output, input).Span;
        var x = input.Span;
        float keep = 1f / (1f - P);
        for (int i = 0; i < x.Length; i++)
        {
            mask[i] = Rng.NextFloat() >= P ? keep : 0f;
            y[i] = x[i] * mask[i];
        }
        return _output;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        if (!_masked) return gradOutput;
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, gradOutput);
        var mask = _mask.Span;
        var dy = gradOutput.Span;
        var d = dx.Span;
        for (int i = 0; i < d.Length; i++) d[i] = dy[i] * mask[i];
        return dx;
    }

    public override string ToString() => $"Dropout({P})";
}
