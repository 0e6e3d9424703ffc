using Mnist.Core.Kernels;

namespace Mnist.Core.Layers;

/// <summary>y = max(x, 0).</summary>
public sealed class ReLU : Activation, IPiecewise
{
    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Signs(hash, LastInput is null ? default : LastInput.Span);

    public override string Kind => "relu";
    protected override void Apply(ReadOnlySpan<float> x, Span<float> y) => Elementwise.Relu(x, y);
    protected override void Derive(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
        => Elementwise.ReluBackward(x, dy, dx);
}
