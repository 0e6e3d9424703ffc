using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>A fully connected layer with <paramref name="Out"/> outputs.</summary>
public sealed record DenseSpec(int Out) : LayerSpec;

/// <summary>"dense": a <see cref="Dense"/> over every element of a sample.</summary>
internal sealed class DenseKind : LayerKind<DenseSpec, Dense>
{
    public override string Name => "dense";

    protected override Dense Build(DenseSpec s, LayerContext context) => new(context.Features, s.Out, context.Backend);

    private protected override long CheckedParameters(DenseSpec s, int[] inputShape)
    {
        ModelLimits.CheckSettings(s.Out);
        return ModelLimits.Product(s.Out, ModelLimits.Count(inputShape)) + s.Out;
    }

    private protected override Float64Tensor Float64(Dense d, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        int batch = input.Batch, inF = d.InFeatures, outF = d.OutFeatures;
        var w = d.Weight.Value.ToArray();
        var bias = d.Bias.Value.ToArray();
        var y = new double[batch * outF];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < outF; o++)
            {
                double sum = bias[o];
                for (int i = 0; i < inF; i++) sum += w[o * inF + i] * x[b * inF + i];
                y[b * outF + o] = sum;
            }
        return new(y, [batch, outF]);
    }

    /// <summary>Gemm takes a matrix: an image-shaped input is flattened first, as our kernel reads it.</summary>
    private protected override string ToOnnx(Dense d, OnnxExporter onnx, OnnxValue x, string name)
    {
        string flat = x.Shape.Length == 1 ? x.Name : onnx.Graph.Node("Flatten", [x.Name], OnnxAttribute.Of("axis", 1L));
        return onnx.Graph.Node("Gemm", [flat, onnx.Weight(name, d.Weight), onnx.Weight(name, d.Bias)], OnnxAttribute.Of("transB", 1L));
    }

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("dense", b => new Dense(7, 5, backend: b), LayerCheck.Gaussian(0f, 3, 7)),
        new("dense on an image-shaped input", b => new Dense(12, 4, backend: b), LayerCheck.Gaussian(0f, 2, 3, 2, 2)),
    ];
}

/// <summary>
/// Fully connected: y = x·Wᵀ + b with W [out, in] (PyTorch layout). Accepts any input whose
/// per-sample size is <c>in</c>; the input gradient keeps the input's shape.
/// </summary>
public sealed class Dense : Layer, IInitializable
{
    private readonly Tensor _output;
    private readonly Tensor _gradInput;
    private Tensor? _input;

    public Dense(int inFeatures, int outFeatures, Backend? backend = null) : base(backend)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new MnistException($"dense needs positive sizes (got in {inFeatures}, out {outFeatures})");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter("weight", new Tensor(Backend, outFeatures, inFeatures));
        Bias = new Parameter("bias", new Tensor(Backend, outFeatures)) { Decay = false };
        _output = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
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
        Backend.Gemm(false, true, batch, OutFeatures, InFeatures, input, InFeatures, Weight.Value, InFeatures, y, OutFeatures);
        Backend.AddRowBias(y, batch, Bias.Value);
        return y;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        int batch = x.Dim(0);
        var dy = gradOutput;
        // dW[out, in] = dy[N, out]ᵀ · x[N, in];  db = Σ_N dy
        Backend.Gemm(true, false, OutFeatures, InFeatures, batch, dy, OutFeatures, x, InFeatures, Weight.Grad, InFeatures);
        Backend.SumRows(dy, batch, Bias.Grad);
        if (!ComputeInputGradient) return _gradInput;
        // dx[N, in] = dy[N, out] · W[out, in]
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Backend.Gemm(false, false, batch, InFeatures, OutFeatures, dy, OutFeatures, Weight.Value, InFeatures, dx, InFeatures);
        return dx;
    }

    public void Initialize(InitScheme scheme, Rng rng)
    {
        Init.Weights(Weight.Value, InFeatures, OutFeatures, scheme, rng);
        Bias.Value.Clear();
    }

    public override string ToString() => $"Dense({InFeatures}->{OutFeatures})";
}
