using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// An element-wise activation y = f(x) of any shape, computed by the backend
/// (<see cref="Function"/> names f). Subclasses give the function, its float64 reference and the
/// initialisation that suits it; the base keeps x and y for backward and owns the buffers.
/// </summary>
public abstract class Activation : Layer, IInitPreference
{
    private readonly Tensor _output;
    private readonly Tensor _gradInput;
    private Tensor? _input;

    protected Activation(Backend? backend) : base(backend)
    {
        _output = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
    }

    /// <summary>What the backend computes: f and its parameter.</summary>
    public abstract ActivationFunction Function { get; }

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
        Backend.Activate(Function, input, y);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Backend.ActivateBackward(Function, x, _output, gradOutput, dx);
        return dx;
    }

    /// <summary>Folds the last input's sign pattern (the kinks of a ReLU-like f) into <paramref name="hash"/>.</summary>
    private protected ulong HashSigns(ulong hash) => Pieces.Signs(hash, LastInput is null ? [] : LastInput.ToArray());

    public override string ToString() => GetType().Name;
}
