using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// An element-wise activation y = f(x) of any shape. Subclasses give f and its derivative; the
/// base keeps x and y for backward and owns the buffers.
/// </summary>
public abstract class Activation : Layer, IInitPreference
{
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private Tensor? _input;

    /// <summary>y = f(x).</summary>
    protected abstract void Apply(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>dx = dy · f′(x), given x and the y that Apply produced.</summary>
    protected abstract void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);

    /// <summary>f in float64, the gradient checker's reference.</summary>
    internal abstract double Float64(double x);

    /// <summary>The input of the last forward pass.</summary>
    protected Tensor? LastInput => _input;

    /// <summary>The initialisation that suits weights feeding this activation.</summary>
    public virtual InitScheme PreferredInit => InitScheme.He;

    public override int[] OutputShape(int[] inputShape) => inputShape;

    public override Tensor Forward(Tensor input, bool training)
    {
        _input = input;
        var y = OwnedBuffers.ShapeLike(_output, input);
        Apply(input.Span, y.Span);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Derive(x.Span, _output.Span, gradOutput.Span, dx.Span);
        return dx;
    }

    public override string ToString() => GetType().Name;
}
