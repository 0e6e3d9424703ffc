using Mnist.Core.Backends;
using Mnist.Core.GradCheck;
using Mnist.Core.IO.Onnx;
using Mnist.Core.Models;

namespace Mnist.Core.Layers;

/// <summary>An activation by name (see <see cref="Activations.Names"/>); slope for leakyrelu, alpha for elu.</summary>
public sealed record ActivationSpec(string Name, float? Slope = null, float? Alpha = null) : LayerSpec;

/// <summary>"activation": one of <see cref="Activations"/>, by name.</summary>
internal sealed class ActivationKind : LayerKind<ActivationSpec, Activation>
{
    public override string Name => "activation";

    protected override Activation Build(ActivationSpec s, LayerContext context) => Activations.Create(s.Name, s.Slope, s.Alpha, context.Backend);

    private protected override long CheckedParameters(ActivationSpec s, int[] inputShape)
    {
        ModelLimits.CheckFactor(s.Slope, "slope");
        ModelLimits.CheckFactor(s.Alpha, "alpha");
        return 0;
    }

    private protected override Float64Tensor Float64(Activation act, Float64Tensor input, Float64Pass pass)
    {
        var x = input.Values;
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = act.Float64(x[i]);
        if (act is IPiecewise) pass.Signs(x);
        return input with { Values = y };
    }

    /// <summary>
    /// ONNX's operator of the same formula (LeakyRelu's and Elu's "alpha" is our slope and
    /// alpha, and they agree with ours at 0); swish, which opset 13 lacks, as x·Sigmoid(x).
    /// </summary>
    private protected override string ToOnnx(Activation act, OnnxExporter onnx, OnnxValue x, string name)
    {
        var (graph, f) = (onnx.Graph, act.Function);
        return f.Op switch
        {
            ActivationOp.Relu => graph.Node("Relu", [x.Name]),
            ActivationOp.LeakyRelu => graph.Node("LeakyRelu", [x.Name], OnnxAttribute.Of("alpha", f.Parameter)),
            ActivationOp.Elu => graph.Node("Elu", [x.Name], OnnxAttribute.Of("alpha", f.Parameter)),
            ActivationOp.Swish => graph.Node("Mul", [x.Name, graph.Node("Sigmoid", [x.Name])]),
            ActivationOp.Sigmoid => graph.Node("Sigmoid", [x.Name]),
            ActivationOp.Tanh => graph.Node("Tanh", [x.Name]),
            _ => throw new NotSupportedException($"no ONNX export for {act}"),
        };
    }

    internal override IEnumerable<LayerCheck> Checks =>
        from name in Activations.Names.Select(Activations.Canonical).Distinct()
        select new LayerCheck("activation " + name, b => Activations.Create(name, slope: 0.1f, alpha: 0.7f, b), LayerCheck.Gaussian(0.1f, 3, 4, 2, 2));
}

/// <summary>Activations by name, for configs and command lines.</summary>
public static class Activations
{
    /// <summary>The names <see cref="Create"/> accepts (case-insensitive; '-' and '_' ignored).</summary>
    public static IReadOnlyList<string> Names { get; } = ["relu", "leakyrelu", "elu", "swish", "silu", "sigmoid", "tanh"];

    /// <summary>
    /// A new activation layer on <paramref name="backend"/> (default: the CPU). <paramref name="slope"/>
    /// is LeakyReLU's negative slope (default 0.01), <paramref name="alpha"/> ELU's saturation
    /// (default 1); other activations ignore them.
    /// </summary>
    public static Activation Create(string name, float? slope = null, float? alpha = null, Backend? backend = null) => Normalize(name) switch
    {
        "relu" => new ReLU(backend),
        "leakyrelu" => new LeakyReLU(slope ?? 0.01f, backend),
        "elu" => new ELU(alpha ?? 1f, backend),
        "swish" or "silu" => new Swish(backend),
        "sigmoid" => new Sigmoid(backend),
        "tanh" => new Tanh(backend),
        _ => throw Unknown(name),
    };

    /// <summary>The canonical name (silu → swish), or an error listing the valid names.</summary>
    public static string Canonical(string name)
    {
        var key = Normalize(name);
        if (key == "silu") return "swish";
        foreach (var valid in Names) if (valid == key) return key;
        throw Unknown(name);
    }

    private static string Normalize(string name) =>
        (name ?? "").Trim().ToLowerInvariant().Replace("-", "").Replace("_", "");

    private static MnistException Unknown(string name) =>
        new($"unknown activation '{name}'; valid names: {string.Join(", ", Names)}");
}
