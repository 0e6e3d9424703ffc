using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Average pooling; the stride defaults to the window size.</summary>
public sealed record AvgPoolSpec(int Size = 2, int? Stride = null) : LayerSpec;

/// <summary>"avgpool": an <see cref="AvgPool2D"/>.</summary>
internal sealed class AvgPoolKind : LayerKind<AvgPoolSpec, AvgPool2D>
{
    public override string Name => "avgpool";

    protected override AvgPool2D Build(AvgPoolSpec s, LayerContext context) => new(s.Size, s.Stride, context.Backend);

    private protected override long CheckedParameters(AvgPoolSpec s, int[] inputShape)
    {
        ModelLimits.CheckSettings(s.Size, s.Stride ?? 1);
        return 0;
    }

    private protected override Float64Tensor Float64(AvgPool2D layer, Float64Tensor x, Float64Pass pass) => layer.Float64(x, pass);

    private protected override string ToOnnx(AvgPool2D layer, OnnxExporter onnx, OnnxValue x, string name) => layer.ToOnnx("AveragePool", onnx, x);

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("avgpool 2x2", b => new AvgPool2D(2, backend: b), LayerCheck.Gaussian(0f, 2, 3, 4, 6)),
        new("avgpool 3x3 stride 1", b => new AvgPool2D(3, 1, backend: b), LayerCheck.Gaussian(0f, 2, 2, 5, 5)),
    ];
}

/// <summary>Average pooling over size×size windows (size = the input's side gives global average pooling).</summary>
public sealed class AvgPool2D(int size = 2, int? stride = null, Backend? backend = null)
    : Pool2D("average pooling", size, stride, backend)
{
    public override Tensor Forward(Tensor input, bool training)
    {
        var y = ShapeOutput(input);
        Backend.AvgPoolForward(Geometry, input.Dim(0), input, y);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = Input;
        if (!ComputeInputGradient) return GradInput;
        var dx = OwnedBuffers.ShapeLike(GradInput, x);
        Backend.AvgPoolBackward(Geometry, x.Dim(0), gradOutput, dx);
        return dx;
    }

    internal Float64Tensor Float64(Float64Tensor x, Float64Pass pass) => Float64(x, pass, max: false);

    public override string ToString() => $"AvgPool2D({Size}x{Size}, stride {Stride})";
}
