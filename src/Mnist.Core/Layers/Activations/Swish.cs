namespace Mnist.Core.Layers;

/// <summary>Swish / SiLU: y = x·σ(x); its slope is σ(x)·(1 + x·(1 − σ(x))).</summary>
public sealed class Swish : Activation
{
    internal override double Float64(double x) => x / (1 + Math.Exp(-x));

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * Sigmoid.Logistic(x[i]);
    }

    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float s = Sigmoid.Logistic(x[i]);
            dx[i] = dy[i] * s * (1f + x[i] * (1f - s));
        }
    }
}
