using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>The largest value of each channel's whole plane.</summary>
public sealed record GlobalMaxPoolSpec : LayerSpec;

/// <summary>"globalmaxpool": a <see cref="GlobalMaxPool"/>.</summary>
internal sealed class GlobalMaxPoolKind : LayerKind<GlobalMaxPoolSpec, GlobalMaxPool>
{
    public override string Name => "globalmaxpool";

    protected override GlobalMaxPool Build(GlobalMaxPoolSpec s, LayerContext context) => new(context.Backend);

    private protected override long CheckedParameters(GlobalMaxPoolSpec s, int[] inputShape) => 0;

    private protected override Float64Tensor Float64(GlobalMaxPool layer, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int planes = input.Shape[0] * input.Shape[1], size = input.Shape[2] * input.Shape[3];
        var y = new double[planes];
        for (int p = 0; p < planes; p++)
        {
            int best = p * size;
            for (int i = best + 1; i < (p + 1) * size; i++) if (x[i] > x[best]) best = i;
            pass.Piece((ulong)best);
            y[p] = x[best];
        }
        return new(y, [input.Shape[0], input.Shape[1], 1, 1]);
    }

    private protected override string ToOnnx(GlobalMaxPool layer, OnnxExporter onnx, OnnxValue x, string name) =>
        onnx.Graph.Node("GlobalMaxPool", [x.Name]);

    // Shuffled ramps: no near-ties inside a plane.
    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("globalmaxpool over 5x4 planes", b => new GlobalMaxPool(backend: b), () => RandomInputs.ShuffledRamp(8, 0.05f, 2, 3, 5, 4)),
    ];
}

/// <summary>
/// Global max pooling: [N, C, H, W] → [N, C, 1, 1], each channel's largest value (the first on
/// ties). The output stays an image, as global average pooling's (an avgpool as large as the
/// input) and ONNX's GlobalMaxPool do, so a flatten or a batch norm may follow. Backward sends
/// each gradient to its plane's winner.
/// </summary>
public sealed class GlobalMaxPool : Layer, IPiecewise
{
    private readonly Tensor _output;
    private readonly Tensor _gradInput;
    private readonly IndexBuffer _argmax;
    private Tensor? _input;

    public GlobalMaxPool(Backend? backend = null) : base(backend)
    {
        _output = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
        _argmax = new IndexBuffer(Backend);
    }

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw new MnistException($"{this} expects [C, H, W] inputs but got {Tensor.ShapeText(inputShape)}");
        return [inputShape[0], 1, 1];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        OwnedBuffers.Expect(input, [-1, -1, -1], this);
        _input = input;
        int planes = input.Dim(0) * input.Dim(1);
        var y = OwnedBuffers.Shape(_output, input.Dim(0), input.Dim(1), 1, 1);
        Backend.GlobalMaxPoolForward(input, planes, input.Dim(2) * input.Dim(3), y, _argmax.Resize(planes));
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Backend.GlobalMaxPoolBackward(gradOutput, _argmax, x.Dim(0) * x.Dim(1), x.Dim(2) * x.Dim(3), dx);
        return dx;
    }

    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Indices(hash, _argmax.ToArray());

    public override string ToString() => "GlobalMaxPool";
}
