using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Max pooling over size×size windows; backward sends each gradient to the window's winner.</summary>
public sealed class MaxPool2D(int size = 2, int? stride = null) : Pool2D("maxpool", size, stride), IPiecewise
{
    private int[] _argmax = [];

    public override Tensor Forward(Tensor input, bool training)
    {
        var y = ShapeOutput(input);
        Pooling.MaxForward(Geometry, input.Dim(0), input.Span, y.Span, OwnedBuffers.Ints(ref _argmax, y.Length));
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = Input;
        if (!ComputeInputGradient) return GradInput;
        var dx = OwnedBuffers.ShapeLike(GradInput, x);
        Pooling.MaxBackward(Geometry, x.Dim(0), gradOutput.Span, _argmax.AsSpan(0, gradOutput.Length), dx.Span);
        return dx;
    }

    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Indices(hash, _argmax.AsSpan(0, Output.Length));

    public override string ToString() => $"MaxPool2D({Size}x{Size}, stride {Stride})";
}
