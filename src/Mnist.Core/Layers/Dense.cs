using Mnist.Core.GradCheck;
using Mnist.Core.Kernels;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>A fully connected layer with <paramref name="Out"/> outputs.</summary>
public sealed record DenseSpec(int Out) : LayerSpec;

/// <summary>"dense": a <see cref="Dense"/> over every element of a sample.</summary>
internal sealed class DenseKind : LayerKind<DenseSpec, Dense>
{
    public override string Name => "dense";

    protected override Dense Build(DenseSpec s, LayerContext context) => new(context.Features, s.Out);

    private protected override Float64Tensor Float64(Dense d, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int batch = input.Batch, inF = d.InFeatures, outF = d.OutFeatures;
        var w = d.Weight.Value.Span;
        var y = new double[batch * outF];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outF; o++)
            {
                double sum = d.Bias.Value[o];
                for (int i = 0; i < inF; i++) sum += w[o * inF + i] * x[b * inF + i];
                y[b * outF + o] = sum;
            }
        return new(y, [batch, outF]);
    }

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("dense", () => new Dense(7, 5), LayerCheck.Gaussian(0f, 3, 7)),
        new("dense on an image-shaped input", () => new Dense(12, 4), LayerCheck.Gaussian(0f, 2, 3, 2, 2)),
    ];
}

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
