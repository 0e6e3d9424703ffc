using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>y = tanh x; its slope is 1 − y².</summary>
public sealed class Tanh(Backend? backend = null) : Activation(backend)
{
    public override ActivationFunction Function => new(ActivationOp.Tanh);
    internal override double Float64(double x) => Math.Tanh(x);
    public override InitScheme PreferredInit => InitScheme.Xavier;
}
