using Mnist.Core.Backends;

namespace Mnist.Core.Layers;

/// <summary>y = x for x &gt; 0, else alpha·(eˣ − 1); its slope there is y + alpha.</summary>
public sealed class ELU(float alpha = 1f, Backend? backend = null) : Activation(backend), IPiecewise
{
    // The slope jumps from alpha to 1 at zero unless alpha is 1.
    ulong IPiecewise.HashPieces(ulong hash) => HashSigns(hash);

    public float Alpha { get; } = alpha;
    public override ActivationFunction Function => new(ActivationOp.Elu, Alpha);
    internal override double Float64(double x) => x > 0 ? x : Alpha * (Math.Exp(x) - 1);

    public override string ToString() => $"ELU({Alpha})";
}
