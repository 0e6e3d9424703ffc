using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Max pooling over size×size windows; backward sends each gradient to the window's winner.</summary>
public sealed class MaxPool2D(int size = 2, int? stride = null) : Layer, IPiecewise
{
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private int[] _argmax = [];
    private Tensor? _input;
    private PoolGeometry _geometry;

    public int Size { get; } = size >= 1 ? size : throw new MnistException($"maxpool size must be at least 1 (got {size})");
    public int Stride { get; } = (stride ?? size) >= 1 ? stride ?? size : throw new MnistException($"maxpool stride must be at least 1 (got {stride})");

    public override string Kind => "maxpool";

    public override int[] OutputShape(int[] inputShape)
    {
        var g = Pools.Geometry(this, inputShape, Size, Stride);
        return [g.Channels, g.OutH, g.OutW];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        OwnedBuffers.Expect(input, [-1, -1, -1], this);
        _input = input;
        _geometry = Pools.Geometry(this, input, Size, Stride);
        int batch = input.Dim(0);
        var y = OwnedBuffers.Shape(_output, batch, _geometry.Channels, _geometry.OutH, _geometry.OutW);
        Pooling.MaxForward(_geometry, batch, input.Span, y.Span, OwnedBuffers.Ints(ref _argmax, y.Length));
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Pooling.MaxBackward(_geometry, x.Dim(0), gradOutput.Span, _argmax.AsSpan(0, gradOutput.Length), dx.Span);
        return dx;
    }

    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Indices(hash, _argmax.AsSpan(0, _output.Length));

    public override string ToString() => $"MaxPool2D({Size}x{Size}, stride {Stride})";
}
