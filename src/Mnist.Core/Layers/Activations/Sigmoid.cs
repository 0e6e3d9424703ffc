using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>y = 1 / (1 + e⁻ˣ); its slope is y(1 − y).</summary>
public sealed class Sigmoid(Backend? backend = null) : Activation(backend)
{
    public override ActivationFunction Function => new(ActivationOp.Sigmoid);
    internal override double Float64(double x) => 1 / (1 + Math.Exp(-x));
    public override InitScheme PreferredInit => InitScheme.Xavier;
}
