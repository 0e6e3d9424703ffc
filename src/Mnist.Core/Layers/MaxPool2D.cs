using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Kernels;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Max pooling; the stride defaults to the window size.</summary>
public sealed record MaxPoolSpec(int Size = 2, int? Stride = null) : LayerSpec;

/// <summary>"maxpool": a <see cref="MaxPool2D"/>.</summary>
internal sealed class MaxPoolKind : LayerKind<MaxPoolSpec, MaxPool2D>
{
    public override string Name => "maxpool";

    protected override MaxPool2D Build(MaxPoolSpec s, LayerContext context) => new(s.Size, s.Stride, context.Backend);

    private protected override long CheckedParameters(MaxPoolSpec s, int[] inputShape)
    {
        ModelLimits.CheckSettings(s.Size, s.Stride ?? 1);
        return 0;
    }

    private protected override Float64Tensor Float64(MaxPool2D layer, Float64Tensor x, Float64Pass pass) => layer.Float64(x, pass);

    private protected override string ToOnnx(MaxPool2D layer, OnnxExporter onnx, OnnxValue x, string name) => layer.ToOnnx("MaxPool", onnx, x);

    // Shuffled ramps: no near-ties inside a pooling window.
    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("maxpool 2x2 stride 2", b => new MaxPool2D(2, backend: b), () => RandomInputs.ShuffledRamp(5, 0.05f, 2, 2, 6, 6)),
        new("maxpool 3x3 stride 2 (overlapping windows)", b => new MaxPool2D(3, 2, backend: b), () => RandomInputs.ShuffledRamp(6, 0.05f, 2, 2, 7, 7)),
    ];
}

/// <summary>Max pooling over size×size windows; backward sends each gradient to the window's winner.</summary>
public sealed class MaxPool2D(int size = 2, int? stride = null, Backend? backend = null)
    : Pool2D("max pooling", size, stride, backend), IPiecewise
{
    private IndexBuffer? _argmax;

    public override Tensor Forward(Tensor input, bool training)
    {
        var (y, argmax, geometry) = Prepare(input);
        Backend.MaxPoolForward(geometry, input.Dim(0), input, y, argmax);
        return y;
    }

    /// <summary>
    /// Everything Forward does but the pooling: keeps the input (backward reads only its shape), and
    /// returns the output and winner buffers sized for it, and the geometry; a fused convolution fills them.
    /// </summary>
    internal (Tensor Output, IndexBuffer Argmax, PoolGeometry Geometry) Prepare(Tensor input)
    {
        var y = ShapeOutput(input);
        _argmax ??= new IndexBuffer(Backend);
        return (y, _argmax.Resize(y.Length), Geometry);
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = Input;
        if (!ComputeInputGradient) return GradInput;
        var dx = OwnedBuffers.ShapeLike(GradInput, x);
        Backend.MaxPoolBackward(Geometry, x.Dim(0), gradOutput, _argmax!, dx);
        return dx;
    }

    /// <summary>The last forward's winners and geometry, from which a fused convolution unpools the gradient.</summary>
    internal (IndexBuffer Argmax, PoolGeometry Geometry) Winners =>
        (_argmax ?? throw new InvalidOperationException("Backward before Forward"), Geometry);

    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Indices(hash, _argmax is null ? [] : _argmax.ToArray());

    internal Float64Tensor Float64(Float64Tensor x, Float64Pass pass) => Float64(x, pass, max: true);

    public override string ToString() => $"MaxPool2D({Size}x{Size}, stride {Stride})";
}
