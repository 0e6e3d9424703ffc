using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>A residual block (see <see cref="ResidualBlock"/>) with its activation.</summary>
public sealed record ResidualSpec(int Out, int Stride = 1, string Activation = "relu", float? Slope = null, float? Alpha = null) : LayerSpec;

/// <summary>"residual": a <see cref="ResidualBlock"/> over the input's channels.</summary>
internal sealed class ResidualKind : LayerKind<ResidualSpec, ResidualBlock>
{
    public override string Name => "residual";

    protected override ResidualBlock Build(ResidualSpec s, LayerContext context) =>
        new(context.ImageChannels(Name), s.Out, s.Stride, s.Activation, s.Slope, s.Alpha, context.Backend);

    /// <summary>Two 3×3 convolutions, the 1×1 projection and the batch norms, counted generously.</summary>
    private protected override long CheckedParameters(ResidualSpec s, int[] inputShape)
    {
        ModelLimits.CheckSettings(s.Out, s.Stride);
        ModelLimits.CheckFactor(s.Slope, "slope");
        ModelLimits.CheckFactor(s.Alpha, "alpha");
        long channels = ModelLimits.Channels(inputShape);
        return 9L * s.Out * (channels + s.Out) + s.Out * channels + 8L * s.Out;
    }

    private protected override Float64Tensor Float64(ResidualBlock r, Float64Tensor x, Float64Pass pass)
    {
        var h = pass.Run(r.Conv1, x);
        h = pass.Run(r.Bn1, h);
        h = pass.Run(r.Act1, h);
        h = pass.Run(r.Conv2, h);
        h = pass.Run(r.Bn2, h);
        var shortcut = r.ProjectionConv is null || r.ProjectionBn is null ? x : pass.Run(r.ProjectionBn, pass.Run(r.ProjectionConv, x));
        var z = new double[h.Values.Length];
        for (int i = 0; i < z.Length; i++) z[i] = h.Values[i] + shortcut.Values[i];
        return pass.Run(r.ActOut, h with { Values = z });
    }

    private protected override string ToOnnx(ResidualBlock r, OnnxExporter onnx, OnnxValue x, string name)
    {
        OnnxValue Run(Layer layer, OnnxValue input, string child) => onnx.Run(layer, input, OnnxExporter.Child(name, child));
        var h = Run(r.Conv1, x, "conv1");
        h = Run(r.Bn1, h, "bn1");
        h = Run(r.Act1, h, "act1");
        h = Run(r.Conv2, h, "conv2");
        h = Run(r.Bn2, h, "bn2");
        var shortcut = r.ProjectionConv is null || r.ProjectionBn is null ? x : Run(r.ProjectionBn, Run(r.ProjectionConv, x, "shortcut.conv"), "shortcut.bn");
        var sum = new OnnxValue(onnx.Graph.Node("Add", [h.Name, shortcut.Name]), h.Shape);
        return Run(r.ActOut, sum, "act").Name;
    }

    /// <summary>
    /// Blocks chain five float32 layers: their rounding (and, at ReLU, kinks the checker steps
    /// around) costs a percent or two on small elements (2.7% on an H200, whose sums round
    /// differently, for bn2's scale of the tanh block), so 3%. The float64 check holds them to 1e-3.
    /// </summary>
    private static readonly GradCheckOptions Block = new() { Tolerance = 3e-2 };

    internal override IEnumerable<LayerCheck> Checks =>
    [
        new("residual block, identity shortcut, swish", b => new ResidualBlock(3, 3, 1, "swish", backend: b), LayerCheck.Gaussian(0f, 2, 3, 5, 5), Options: Block),
        new("residual block, projection stride 2, tanh", b => new ResidualBlock(2, 4, 2, "tanh", backend: b), LayerCheck.Gaussian(0f, 2, 2, 6, 6), Options: Block),
        // ReLU kinks inside the block cannot be kept out of reach by the input: the checker sees
        // sign changes and shrinks its step there.
        new("residual block, identity shortcut, relu", b => new ResidualBlock(2, 2, 1, "relu", backend: b), LayerCheck.Gaussian(0f, 2, 2, 5, 5), Options: Block),
        new("residual block, projection stride 2, relu", b => new ResidualBlock(2, 3, 2, "relu", backend: b), LayerCheck.Gaussian(0f, 2, 2, 6, 6), Options: Block),
    ];
}

/// <summary>
/// y = act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x)), with 3×3 convolutions (the first
/// carries the stride) and a shortcut that is the identity when shapes agree, else a strided
/// 1×1 convolution with batch norm. Convolutions carry no bias: batch norm's β takes its place.
/// </summary>
public sealed class ResidualBlock : Layer, ICompositeLayer, IInitializable, IInitPreference
{
    private readonly Tensor _sum;
    private readonly Tensor _gradInput;
    private Tensor? _input;

    public ResidualBlock(int inChannels, int outChannels, int stride = 1, string activation = "relu", float? slope = null,
        float? alpha = null, Backend? backend = null) : base(backend)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Stride = stride;
        Conv1 = new Conv2D(inChannels, outChannels, 3, stride, 1, bias: false, Backend);
        Bn1 = new BatchNorm2D(outChannels, backend: Backend);
        Act1 = Activations.Create(activation, slope, alpha, Backend);
        Conv2 = new Conv2D(outChannels, outChannels, 3, 1, 1, bias: false, Backend);
        Bn2 = new BatchNorm2D(outChannels, backend: Backend);
        if (inChannels != outChannels || stride != 1)
        {
            ProjectionConv = new Conv2D(inChannels, outChannels, 1, stride, 0, bias: false, Backend);
            ProjectionBn = new BatchNorm2D(outChannels, backend: Backend);
        }
        ActOut = Activations.Create(activation, slope, alpha, Backend);
        _sum = OwnedBuffers.Empty(Backend);
        _gradInput = OwnedBuffers.Empty(Backend);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }
    public Conv2D Conv1 { get; }
    public BatchNorm2D Bn1 { get; }
    public Activation Act1 { get; }
    public Conv2D Conv2 { get; }
    public BatchNorm2D Bn2 { get; }
    /// <summary>The 1×1 projection shortcut, or null for the identity.</summary>
    public Conv2D? ProjectionConv { get; }
    public BatchNorm2D? ProjectionBn { get; }
    public Activation ActOut { get; }

    /// <summary>The block ends in its activation, so weights before it suit that activation.</summary>
    public InitScheme PreferredInit => ActOut.PreferredInit;

    public IEnumerable<(string Name, Layer Layer)> Children
    {
        get
        {
            yield return ("conv1", Conv1);
            yield return ("bn1", Bn1);
            yield return ("act1", Act1);
            yield return ("conv2", Conv2);
            yield return ("bn2", Bn2);
            if (ProjectionConv is not null && ProjectionBn is not null)
            {
                yield return ("shortcut.conv", ProjectionConv);
                yield return ("shortcut.bn", ProjectionBn);
            }
            yield return ("act", ActOut);
        }
    }

    public override IEnumerable<Parameter> Parameters
    {
        get
        {
            foreach (var (_, layer) in Children)
                foreach (var p in layer.Parameters) yield return p;
        }
    }

    public override IEnumerable<(string Name, Tensor Value)> Buffers => LayerTree.NamedBuffers(this);

    public override int[] OutputShape(int[] inputShape) => Conv1.OutputShape(inputShape);

    public override Tensor Forward(Tensor input, bool training)
    {
        _input = input;
        var h = Conv1.Forward(input, training);
        h = Bn1.Forward(h, training);
        h = Act1.Forward(h, training);
        h = Conv2.Forward(h, training);
        h = Bn2.Forward(h, training);
        var shortcut = ProjectionConv is null || ProjectionBn is null
            ? input
            : ProjectionBn.Forward(ProjectionConv.Forward(input, training), training);
        var z = OwnedBuffers.ShapeLike(_sum, h);
        Backend.Add(h, shortcut, z);
        return ActOut.Forward(z, training);
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        var x = _input ?? throw new InvalidOperationException("Backward before Forward");
        var dz = ActOut.Backward(gradOutput);
        var g = Bn2.Backward(dz);
        g = Conv2.Backward(g);
        g = Act1.Backward(g);
        g = Bn1.Backward(g);
        Conv1.ComputeInputGradient = ComputeInputGradient;
        var dMain = Conv1.Backward(g);
        var dShortcut = dz;
        if (ProjectionConv is not null && ProjectionBn is not null)
        {
            ProjectionConv.ComputeInputGradient = ComputeInputGradient;
            dShortcut = ProjectionConv.Backward(ProjectionBn.Backward(dz));
        }
        if (!ComputeInputGradient) return _gradInput;
        var dx = OwnedBuffers.ShapeLike(_gradInput, x);
        Backend.Add(dMain, dShortcut, dx);
        return dx;
    }

    public void Initialize(InitScheme scheme, Rng rng)
    {
        Conv1.Initialize(scheme, rng);
        Conv2.Initialize(scheme, rng);
        ProjectionConv?.Initialize(scheme, rng);
    }

    public override string ToString() =>
        $"Residual({InChannels}->{OutChannels}, stride {Stride}, {Act1}{(ProjectionConv is null ? "" : ", projection")})";
}
