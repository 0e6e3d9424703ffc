using Mnist.Core.GradCheck;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>The largest value of each channel's whole plane.</summary>
public sealed record GlobalMaxPoolSpec : LayerSpec;

/// <summary>"globalmaxpool": a <see cref="GlobalMaxPool"/>.</summary>
internal sealed class GlobalMaxPoolKind : LayerKind<GlobalMaxPoolSpec, GlobalMaxPool>
{
    public override string Name => "globalmaxpool";

    protected override GlobalMaxPool Build(GlobalMaxPoolSpec s, LayerContext context) => new();

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

    // Shuffled ramps: no near-ties inside a plane.
    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("globalmaxpool over 5x4 planes", () => new GlobalMaxPool(), () => RandomInputs.ShuffledRamp(8, 0.05f, 2, 3, 5, 4)),
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
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private Tensor? _input;
    private int[] _argmax = [];

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3) throw new MnistException($"{this} expects [C, H, W] inputs but got {Tensor.ShapeText(inputShape)}");
        return [inputShape[0], 1, 1];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        OwnedBuffers.Expect(input, [-1, -1, -1], this);
        _input = input;
        int planes = input.Dim(0) * input.Dim(1), size = input.Dim(2) * input.Dim(3);
        var y = OwnedBuffers.Shape(_output, input.Dim(0), input.Dim(1), 1, 1).Span;
        var winners = OwnedBuffers.Ints(ref _argmax, planes);
        var x = input.Span;
        for (int p = 0; p < planes; p++)
        {
            int best = p * size;
            for (int i = best + 1; i < (p + 1) * size; i++) if (x[i] > x[best]) best = i;
            winners[p] = best;
            y[p] = x[best];
        }
        return _output;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x).Span;
        dx.Clear();
        var dy = gradOutput.Span;
        for (int p = 0; p < dy.Length; p++) dx[_argmax[p]] = dy[p];
        return _gradInput;
    }

    ulong IPiecewise.HashPieces(ulong hash) => Pieces.Indices(hash, _argmax.AsSpan(0, _output.Length));

    public override string ToString() => "GlobalMaxPool";
}
