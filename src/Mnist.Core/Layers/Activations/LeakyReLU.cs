using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>y = x for x &gt; 0, else slope·x.</summary>
public sealed class LeakyReLU(float slope = 0.01f, Backend? backend = null) : Activation(backend), IPiecewise
{
    ulong IPiecewise.HashPieces(ulong hash) => HashSigns(hash);

    public float Slope { get; } = slope;
    public override ActivationFunction Function => new(ActivationOp.LeakyRelu, Slope);
    internal override double Float64(double x) => x > 0 ? x : Slope * x;

    public override string ToString() => $"LeakyReLU({Slope})";
}
