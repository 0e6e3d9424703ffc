using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>Swish / SiLU: y = x·σ(x); its slope is σ(x)·(1 + x·(1 − σ(x))).</summary>
public sealed class Swish(Backend? backend = null) : Activation(backend)
{
    public override ActivationFunction Function => new(ActivationOp.Swish);
    internal override double Float64(double x) => x / (1 + Math.Exp(-x));
}
