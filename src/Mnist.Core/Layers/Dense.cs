using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// Fully connected: y = x·Wᵀ + b with W [out, in] (PyTorch layout). Accepts any input whose
/// per-sample size is <c>in</c>; the input gradient keeps the input's shape.
/// </summary>
public sealed class Dense : Layer, IInitializable
{
    private readonly Tensor _output = OwnedBuffers.Empty();
    private readonly Tensor _gradInput = OwnedBuffers.Empty();
    private Tensor? _input;

    public Dense(int inFeatures, int outFeatures)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new MnistException($"dense needs positive sizes (got in {inFeatures}, out {outFeatures})");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter("weight", new Tensor(outFeatures, inFeatures));
        Bias = new Parameter("bias", new Tensor(outFeatures)) { Decay = false };
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }

    public override string Kind => "dense";

    public override IEnumerable<Parameter> Parameters => [Weight, Bias];

    public override int[] OutputShape(int[] inputShape)
    {
        if (Tensor.CountOf(inputShape) != InFeatures) throw new MnistException($"{this} expects {InFeatures} features per sample but gets {Tensor.ShapeText(inputShape)}");
        return [OutFeatures];
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        int batch = input.Dim(0);
        if (input.Rank < 2 || input.Length != batch * InFeatures)
            throw new MnistException($"{this} expects {InFeatures} features per sample but got {Tensor.ShapeText(input.Shape)}");
        _input = input;
        var y = OwnedBuffers.Shape(_output, batch, OutFeatures);
        // y[N, out] = x[N, in] · W[out, in]ᵀ
        Gemm.Sgemm(false, true, batch, OutFeatures, InFeatures, input.Span, InFeatures, Weight.Value.Span, InFeatures, y.Span, OutFeatures);
        Elementwise.AddRowBias(y.Span, batch, Bias.Value.Span);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        int batch = x.Dim(0);
        var dy = gradOutput.Span;
        // dW[out, in] = dy[N, out]ᵀ · x[N, in];  db = Σ_N dy
        Gemm.Sgemm(true, false, OutFeatures, InFeatures, batch, dy, OutFeatures, x.Span, InFeatures, Weight.Grad.Span, InFeatures);
        Elementwise.SumRows(dy, batch, Bias.Grad.Span);
        if (!ComputeInputGradient) return _gradInput;
        // dx[N, in] = dy[N, out] · W[out, in]
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Gemm.Sgemm(false, false, batch, InFeatures, OutFeatures, dy, OutFeatures, Weight.Value.Span, InFeatures, dx.Span, InFeatures);
        return dx;
    }

    public void Initialize(InitScheme scheme, Rng rng)
    {
        Init.Weights(Weight.Value, InFeatures, OutFeatures, scheme, rng);
        Bias.Value.Clear();
    }

    public override string ToString() => $"Dense({InFeatures}->{OutFeatures})";
}
