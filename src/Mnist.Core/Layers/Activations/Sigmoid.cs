namespace Mnist.Core.Layers;

/// <summary>y = 1 / (1 + e⁻ˣ); its slope is y(1 − y).</summary>
public sealed class Sigmoid : Activation
{
    internal override double Float64(double x) => 1 / (1 + Math.Exp(-x));
    public override InitScheme PreferredInit => InitScheme.Xavier;

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Logistic(x[i]);
    }

    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * y[i] * (1f - y[i]);
    }

    /// <summary>The logistic function without overflow: e^x is only taken for x ≤ 0.</summary>
    internal static float Logistic(float x)
    {
        if (x >= 0f) return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }
}
