using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Average pooling over size×size windows (size = the input's side gives global average pooling).</summary>
public sealed class AvgPool2D(int size = 2, int? stride = null) : Pool2D("avgpool", size, stride)
{
    public override Tensor Forward(Tensor input, bool training)
    {
        var y = ShapeOutput(input);
        Pooling.AvgForward(Geometry, input.Dim(0), input.Span, y.Span);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = Input;
        if (!ComputeInputGradient) return GradInput;
        var dx = OwnedBuffers.ShapeLike(GradInput, x);
        Pooling.AvgBackward(Geometry, x.Dim(0), gradOutput.Span, dx.Span);
        return dx;
    }

    public override string ToString() => $"AvgPool2D({Size}x{Size}, stride {Stride})";
}
