using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

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

    public override string Kind => "dropout";

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
