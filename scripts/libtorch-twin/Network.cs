using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

/// <summary>
/// Builds the network of one of our model configs (JSON) with TorchSharp modules. One entry of
/// <see cref="Layers"/> per layer kind, like scripts/pytorch_twin.py.
/// </summary>
static class Network
{
    /// <summary>A layer kind: (spec, per-sample input shape) → (module, output shape).</summary>
    private delegate (Module<Tensor, Tensor> Module, long[] Shape) LayerFactory(JsonElement spec, long[] shape);

    private static readonly Dictionary<string, LayerFactory> Layers = new()
    {
        ["conv2d"] = Conv,
        ["maxpool"] = (spec, shape) => Pool(spec, shape, "maxpool", (size, stride) => MaxPool2d(size, stride)),
        ["avgpool"] = (spec, shape) => Pool(spec, shape, "avgpool", (size, stride) => AvgPool2d(size, stride)),
        ["activation"] = (spec, shape) => (Activation(Text(spec, "name", ""), spec), shape),
        ["flatten"] = (spec, shape) => (Flatten(), [shape.Aggregate(1L, (a, b) => a * b)]),
        ["dense"] = Dense,
        ["dropout"] = (spec, shape) => (Dropout(spec.GetProperty("p").GetDouble()), shape),
        ["batchnorm"] = BatchNorm,
        ["residual"] = (spec, shape) => { var block = new Residual(spec, Image(shape, "residual")); return (block, block.OutputShape); },
        ["globalmaxpool"] = (spec, shape) => (AdaptiveMaxPool2d([1L, 1L]), [Image(shape, "globalmaxpool")[0], 1, 1]),
    };

    /// <summary>Activations by our canonical name (case, '-' and '_' ignored; silu is swish).</summary>
    private static readonly Dictionary<string, Func<JsonElement, Module<Tensor, Tensor>>> Activations = new()
    {
        ["relu"] = _ => ReLU(),
        ["leakyrelu"] = spec => LeakyReLU(Number(spec, "slope", 0.01)),
        ["elu"] = spec => ELU(Number(spec, "alpha", 1.0)),
        ["swish"] = _ => SiLU(),
        ["sigmoid"] = _ => Sigmoid(),
        ["tanh"] = _ => Tanh(),
    };

    public static Sequential Build(JsonElement config)
    {
        long[] shape = config.GetProperty("inputShape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
        var modules = new List<(string, Module<Tensor, Tensor>)>();
        foreach (var spec in config.GetProperty("layers").EnumerateArray())
        {
            string kind = Text(spec, "type", "");
            if (!Layers.TryGetValue(kind, out var factory))
                throw new ArgumentException($"the twin does not build layer type {kind} (it builds: {string.Join(", ", Layers.Keys)})");
            (var module, shape) = factory(spec, shape);
            modules.Add((modules.Count.ToString(), module));
        }
        return Sequential(modules);
    }

    public static Module<Tensor, Tensor> Activation(string name, JsonElement spec)
    {
        string key = name.Trim().ToLowerInvariant().Replace("-", "").Replace("_", "");
        if (key == "silu") key = "swish";
        return Activations.TryGetValue(key, out var create) ? create(spec)
            : throw new ArgumentException($"the twin does not know activation {name} (it knows: {string.Join(", ", Activations.Keys)})");
    }

    public static long ConvOut(long size, long kernel, long stride, long pad) => (size + 2 * pad - kernel) / stride + 1;

    public static long[] Image(long[] shape, string kind) =>
        shape.Length == 3 ? shape : throw new ArgumentException($"{kind} needs a [C, H, W] input, not [{string.Join(", ", shape)}]");

    private static (Module<Tensor, Tensor>, long[]) Conv(JsonElement spec, long[] shape)
    {
        Image(shape, "conv2d");
        long outChannels = spec.GetProperty("out").GetInt64();
        long k = Integer(spec, "kernel", 3), s = Integer(spec, "stride", 1), p = Integer(spec, "pad", 0);
        bool bias = !spec.TryGetProperty("bias", out var b) || b.GetBoolean();
        return (Conv2d(shape[0], outChannels, k, s, p, bias: bias), [outChannels, ConvOut(shape[1], k, s, p), ConvOut(shape[2], k, s, p)]);
    }

    private static (Module<Tensor, Tensor>, long[]) Pool(JsonElement spec, long[] shape, string kind, Func<long, long, Module<Tensor, Tensor>> create)
    {
        Image(shape, kind);
        long size = Integer(spec, "size", 2), stride = Integer(spec, "stride", size);
        return (create(size, stride), [shape[0], ConvOut(shape[1], size, stride, 0), ConvOut(shape[2], size, stride, 0)]);
    }

    private static (Module<Tensor, Tensor>, long[]) Dense(JsonElement spec, long[] shape)
    {
        if (shape.Length != 1) throw new ArgumentException($"dense needs a [features] input, not [{string.Join(", ", shape)}]");
        long outFeatures = spec.GetProperty("out").GetInt64();
        return (Linear(shape[0], outFeatures), [outFeatures]);
    }

    private static (Module<Tensor, Tensor>, long[]) BatchNorm(JsonElement spec, long[] shape)
    {
        double eps = Number(spec, "epsilon", 1e-5), momentum = Number(spec, "momentum", 0.1);
        return shape.Length switch
        {
            1 => (BatchNorm1d(shape[0], eps, momentum), shape),
            3 => (BatchNorm2d(shape[0], eps, momentum), shape),
            _ => throw new ArgumentException($"batchnorm needs a [features] or [C, H, W] input, not [{string.Join(", ", shape)}]"),
        };
    }

    private static string Text(JsonElement spec, string name, string fallback) =>
        spec.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;

    private static long Integer(JsonElement spec, string name, long fallback) =>
        spec.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : fallback;

    public static double Number(JsonElement spec, string name, double fallback) =>
        spec.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
}

/// <summary>
/// Our ResidualBlock: act(bn2(conv2(act1(bn1(conv1(x))))) + shortcut(x)), the shortcut a strided
/// 1×1 convolution with batch norm when the shape changes, else the identity.
/// </summary>
sealed class Residual : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> conv1, bn1, act1, conv2, bn2, shortcut, act;

    public Residual(JsonElement spec, long[] shape) : base("residual")
    {
        long inChannels = shape[0], outChannels = spec.GetProperty("out").GetInt64();
        long stride = spec.TryGetProperty("stride", out var s) ? s.GetInt64() : 1;
        string activation = spec.TryGetProperty("activation", out var a) ? a.GetString()! : "relu";
        conv1 = Conv2d(inChannels, outChannels, 3, stride, 1, bias: false);
        bn1 = BatchNorm2d(outChannels);
        act1 = Network.Activation(activation, spec);
        conv2 = Conv2d(outChannels, outChannels, 3, 1, 1, bias: false);
        bn2 = BatchNorm2d(outChannels);
        shortcut = inChannels != outChannels || stride != 1
            ? Sequential(Conv2d(inChannels, outChannels, 1, stride, 0, bias: false), BatchNorm2d(outChannels))
            : Identity();
        act = Network.Activation(activation, spec);
        OutputShape = [outChannels, Network.ConvOut(shape[1], 3, stride, 1), Network.ConvOut(shape[2], 3, stride, 1)];
        RegisterComponents();
    }

    public long[] OutputShape { get; }

    public override Tensor forward(Tensor x) =>
        act.forward(bn2.forward(conv2.forward(act1.forward(bn1.forward(conv1.forward(x))))) + shortcut.forward(x));
}
