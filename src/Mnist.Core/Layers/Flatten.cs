using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

public sealed record FlattenSpec : LayerSpec;

/// <summary>"flatten": a <see cref="Flatten"/>.</summary>
internal sealed class FlattenKind : LayerKind<FlattenSpec, Flatten>
{
    public override string Name => "flatten";

    protected override Flatten Build(FlattenSpec s, LayerContext context) => new(context.Backend);

    private protected override long CheckedParameters(FlattenSpec s, int[] inputShape) => 0;

    private protected override Float64Tensor Float64(Flatten layer, Float64Tensor x, Float64Pass pass) =>
        new(x.Values, [x.Batch, x.Values.Length / x.Batch]);

    private protected override string ToOnnx(Flatten layer, OnnxExporter onnx, OnnxValue x, string name) =>
        onnx.Graph.Node("Flatten", [x.Name], OnnxAttribute.Of("axis", 1L));

    internal override IEnumerable<LayerCheck> Checks => [new("flatten", b => new Flatten(backend: b), LayerCheck.Gaussian(0f, 2, 3, 2, 2))];
}

/// <summary>
/// [N, C, H, W] → [N, C·H·W]. Both directions are views of the neighbour's storage (no copy);
/// the view objects are cached, so a pass allocates nothing once shapes settle.
/// </summary>
public sealed class Flatten(Backend? backend = null) : Layer(backend)
{
    private Tensor? _outputView;
    private Tensor? _gradView;
    private Tensor? _input;
    private int[] _inputShape = [];
    private readonly int[] _flatShape = new int[2];

    public override int[] OutputShape(int[] inputShape) => [Tensor.CountOf(inputShape)];

    public override Tensor Forward(Tensor input, bool training)
    {
        _input = input;
        _flatShape[0] = input.Dim(0);
        _flatShape[1] = input.Dim(0) == 0 ? 0 : input.Length / input.Dim(0);
        return OwnedBuffers.View(ref _outputView, input, _flatShape);
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!x.SameShape(_inputShape)) _inputShape = x.Shape.ToArray();
        return OwnedBuffers.View(ref _gradView, gradOutput, _inputShape);
    }

    public override string ToString() => "Flatten";
}
