using Mnist.Core.Kernels;

namespace Mnist.Core.Layers;

/// <summary>y = max(x, 0).</summary>
public sealed class ReLU : Activation, IPiecewise
{
    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Signs(hash, LastInput is null ? default : LastInput.Span);

    internal override double Float64(double x) => x > 0 ? x : 0;
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => Elementwise.Relu(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
        => Elementwise.ReluBackward(x, dy, dx);
}
