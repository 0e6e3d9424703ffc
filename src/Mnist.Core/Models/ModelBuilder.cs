using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Models;

/// <summary>
/// Turns a <see cref="ModelConfig"/> into a network: follows the per-sample shape through the
/// layers so each kind (<see cref="LayerKinds"/>) can size its layer, draws the weights from the
/// seed, and gives every layer that asks (dropout) its own generator split from the same seed.
/// </summary>
public static class ModelBuilder
{
    /// <summary>The network <paramref name="config"/> describes, its weights drawn from <paramref name="seed"/>, on <paramref name="backend"/> (default: the CPU).</summary>
    public static Sequential Build(ModelConfig config, ulong seed, Backend? backend = null)
    {
        backend ??= Backend.Cpu;
        ArgumentNullException.ThrowIfNull(config);
        var shape = CheckInput(config);
        ModelLimits.CheckInput(shape);
        long parameters = 0, activations = 0;
        var master = new Rng(seed);
        var initRng = master.Split();
        var generators = master.Split();
        var layers = new List<Layer>(config.Layers.Count);
        for (int i = 0; i < config.Layers.Count; i++)
        {
            var spec = config.Layers[i];
            var kind = LayerKinds.Of(spec);
            try
            {
                ModelLimits.CheckLayer(kind, spec, shape, ref parameters);
                var layer = kind.Build(spec, new LayerContext(shape, generators, backend));
                shape = layer.OutputShape(shape);
                ModelLimits.CheckOutput(shape, ref activations);
                layers.Add(layer);
            }
            catch (MnistException e)
            {
                throw new MnistException($"layer {i} ({kind.Name}): {e.Message}", e);
            }
        }
        if (shape.Length != 1 || shape[0] != config.NumClasses)
            throw new MnistException($"the model ends with shape {Tensor.ShapeText(shape)} but should give {config.NumClasses} class scores; end it with a dense layer of {config.NumClasses} outputs");
        var defaultScheme = layers.OfType<IInitPreference>().Select(p => (InitScheme?)p.PreferredInit).FirstOrDefault() ?? InitScheme.He;
        for (int i = 0; i < layers.Count; i++)
            if (layers[i] is IInitializable init) init.Initialize(SchemeAfter(layers, i) ?? defaultScheme, initRng);
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

    /// <summary>
    /// The init that suits weighted layer <paramref name="index"/>: its own preference (a block
    /// ending in an activation), else that of the first activation after it before the next
    /// weighted layer; null when there is none (the logits: the model's first preference then).
    /// </summary>
    private static InitScheme? SchemeAfter(List<Layer> layers, int index)
    {
        if (layers[index] is IInitPreference own) return own.PreferredInit;
        for (int j = index + 1; j < layers.Count; j++)
        {
            if (layers[j] is IInitializable) return null;
            if (layers[j] is IInitPreference next) return next.PreferredInit;
        }
        return null;
    }
}
