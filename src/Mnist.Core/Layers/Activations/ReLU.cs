using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>y = max(x, 0).</summary>
public sealed class ReLU(Backend? backend = null) : Activation(backend), IPiecewise
{
    ulong IPiecewise.HashPieces(ulong hash) => HashSigns(hash);

    public override ActivationFunction Function => new(ActivationOp.Relu);
    internal override double Float64(double x) => x > 0 ? x : 0;
}
