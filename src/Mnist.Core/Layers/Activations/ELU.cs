namespace Mnist.Core.Layers;

/// <summary>y = x for x &gt; 0, else alpha·(eˣ − 1); its slope there is y + alpha.</summary>
public sealed class ELU(float alpha = 1f) : Activation, IPiecewise
{
    // The slope jumps from alpha to 1 at zero unless alpha is 1.
    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Signs(hash, LastInput is null ? default : LastInput.Span);

    public float Alpha { get; } = alpha;
    internal override double Float64(double x) => x > 0 ? x : Alpha * (Math.Exp(x) - 1);

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : Alpha * (MathF.Exp(x[i]) - 1f);
    }

    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : dy[i] * (y[i] + Alpha);
    }

    public override string ToString() => $"ELU({Alpha})";
}
