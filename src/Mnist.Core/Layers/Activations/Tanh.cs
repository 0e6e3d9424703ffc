namespace Mnist.Core.Layers;

/// <summary>y = tanh x; its slope is 1 − y².</summary>
public sealed class Tanh : Activation
{
    internal override double Float64(double x) => Math.Tanh(x);
    public override InitScheme PreferredInit => InitScheme.Xavier;

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = MathF.Tanh(x[i]);
    }

    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
    }
}
