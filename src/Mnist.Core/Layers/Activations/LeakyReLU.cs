namespace Mnist.Core.Layers;

/// <summary>y = x for x &gt; 0, else slope·x.</summary>
public sealed class LeakyReLU(float slope = 0.01f) : Activation, IPiecewise
{
    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Signs(hash, LastInput is null ? default : LastInput.Span);

    public float Slope { get; } = slope;
    internal override double Float64(double x) => x > 0 ? x : Slope * x;

    protected override void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : Slope * x[i];
    }

    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : Slope * dy[i];
    }

    public override string ToString() => $"LeakyReLU({Slope})";
}
