using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Models;

/// <summary>
/// Turns a <see cref="ModelConfig"/> into a network: follows the per-sample shape through the
/// layers to infer each one's input channels/features, draws the weights from the seed, and
/// gives every dropout layer its own generator split from the same seed.
/// </summary>
public static class ModelBuilder
{
    public static Sequential Build(ModelConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var shape = CheckInput(config);
        ModelLimits.CheckInput(shape);
        long parameters = 0, activations = 0;
        var master = new Rng(seed);
        var initRng = master.Split();
        var dropoutRng = master.Split();
        var defaultScheme = DefaultScheme(config.Layers);
        var layers = new List<Layer>(config.Layers.Count);
        for (int i = 0; i < config.Layers.Count; i++)
        {
            var spec = config.Layers[i];
            Layer layer;
            try
            {
                ModelLimits.CheckLayer(spec, shape, ref parameters);
                layer = Create(spec, shape, dropoutRng);
                shape = layer.OutputShape(shape);
                ModelLimits.CheckOutput(shape, ref activations);
            }
            catch (MnistException e)
            {
                throw new MnistException($"layer {i} ({TypeName(spec)}): {e.Message}", e);
            }
            if (layer is IInitializable init) init.Initialize(SchemeAfter(config.Layers, i) ?? defaultScheme, initRng);
            layers.Add(layer);
        }
        if (shape.Length != 1 || shape[0] != config.NumClasses)
            throw new MnistException($"the model ends with shape {Tensor.ShapeText(shape)} but should give {config.NumClasses} class scores; end it with a dense layer of {config.NumClasses} outputs");
        return new Sequential(layers);
    }

    private static int[] CheckInput(ModelConfig config)
    {
        if (config.InputShape.Length == 0 || Array.Exists(config.InputShape, d => d < 1))
            throw new MnistException($"input shape {Tensor.ShapeText(config.InputShape)} must have positive dimensions");
        if (config.NumClasses < 2) throw new MnistException($"numClasses must be at least 2 (got {config.NumClasses})");
        if (config.Layers.Count == 0) throw new MnistException("the model has no layers");
        return (int[])config.InputShape.Clone();
    }

    private static Layer Create(LayerSpec spec, int[] shape, Rng dropoutRng) => spec switch
    {
        Conv2DSpec c => new Conv2D(Image(shape, "conv2d")[0], c.Out, c.Kernel, c.Stride, c.Pad, c.Bias),
        MaxPoolSpec p => new MaxPool2D(p.Size, p.Stride),
        AvgPoolSpec p => new AvgPool2D(p.Size, p.Stride),
        ActivationSpec a => Activations.Create(a.Name, a.Slope, a.Alpha),
        FlattenSpec => new Flatten(),
        DenseSpec d => new Dense(Tensor.CountOf(shape), d.Out),
        DropoutSpec d => new Dropout(d.P, dropoutRng.Split()),
        BatchNormSpec b => shape.Length switch
        {
            1 => new BatchNorm1D(shape[0], b.Momentum, b.Epsilon),
            3 => new BatchNorm2D(shape[0], b.Momentum, b.Epsilon),
            _ => throw new MnistException($"batchnorm needs a [features] or [C, H, W] input, not {Tensor.ShapeText(shape)}"),
        },
        ResidualSpec r => new ResidualBlock(Image(shape, "residual")[0], r.Out, r.Stride, r.Activation, r.Slope, r.Alpha),
        _ => throw new MnistException($"unsupported layer spec {spec.GetType().Name}"),
    };

    private static int[] Image(int[] shape, string kind) =>
        shape.Length == 3 ? shape : throw new MnistException($"{kind} needs a [C, H, W] input, not {Tensor.ShapeText(shape)}");

    /// <summary>The init that suits the first activation after layer <paramref name="index"/>, before the next weighted layer.</summary>
    private static InitScheme? SchemeAfter(IReadOnlyList<LayerSpec> specs, int index)
    {
        if (specs[index] is ResidualSpec r) return Activations.Create(r.Activation, r.Slope, r.Alpha).PreferredInit;
        for (int j = index + 1; j < specs.Count; j++)
        {
            switch (specs[j])
            {
                case ActivationSpec a: return Activations.Create(a.Name, a.Slope, a.Alpha).PreferredInit;
                case Conv2DSpec or DenseSpec or ResidualSpec: return null;
            }
        }
        return null;
    }

    /// <summary>For layers with no activation after them (the logits): the model's first activation's choice.</summary>
    private static InitScheme DefaultScheme(IReadOnlyList<LayerSpec> specs)
    {
        foreach (var spec in specs)
        {
            if (spec is ActivationSpec a) return Activations.Create(a.Name, a.Slope, a.Alpha).PreferredInit;
            if (spec is ResidualSpec r) return Activations.Create(r.Activation, r.Slope, r.Alpha).PreferredInit;
        }
        return InitScheme.He;
    }

    private static string TypeName(LayerSpec spec) => spec switch
    {
        Conv2DSpec => "conv2d",
        MaxPoolSpec => "maxpool",
        AvgPoolSpec => "avgpool",
        ActivationSpec => "activation",
        FlattenSpec => "flatten",
        DenseSpec => "dense",
        DropoutSpec => "dropout",
        BatchNormSpec => "batchnorm",
        ResidualSpec => "residual",
        _ => spec.GetType().Name,
    };
}
