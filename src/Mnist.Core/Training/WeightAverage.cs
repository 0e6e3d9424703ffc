using Mnist.Core.Backends;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.Training;

/// <summary>
/// An exponential moving average of a network's parameters and buffers (batch-norm running
/// statistics too), kept in a second network of the same config on the same backend: after
/// optimizer step t each averaged tensor moves toward the trained one by
/// <see cref="Backend.MovingAverage"/> with the decay <see cref="DecayAt"/>. The averaged network
/// is what the trainer evaluates and saves; its tensors go into checkpoints, so a resumed run
/// continues the same average.
/// </summary>
public sealed class WeightAverage
{
    public const string CheckpointPrefix = "ema.";

    private readonly List<(string Name, Tensor Value)> _trained, _averaged;

    /// <summary>Starts the average at the network's current weights.</summary>
    public WeightAverage(Sequential trained, ModelConfig config, float decay)
    {
        if (!(decay > 0 && decay < 1)) throw new MnistException($"the weight average's decay must be between 0 and 1, got {decay}");
        Decay = decay;
        Network = ModelBuilder.Build(config, seed: 0, trained.Backend);
        _trained = ModelFile.NamedTensors(trained);
        _averaged = ModelFile.NamedTensors(Network);
        for (int i = 0; i < _averaged.Count; i++) _averaged[i].Value.CopyFrom(_trained[i].Value);
    }

    /// <summary>The averaged network (evaluate it, save it).</summary>
    public Sequential Network { get; }

    public float Decay { get; }

    /// <summary>
    /// The decay after optimizer step <paramref name="step"/> (from 1): min(decay, (1 + step)/(10 + step)),
    /// a warm-up (as TensorFlow's ExponentialMovingAverage with num_updates does) so the random
    /// initial weights fade out within the first few hundred steps even when decay is close to 1.
    /// </summary>
    public static float DecayAt(float decay, long step) => (float)Math.Min(decay, (1.0 + step) / (10.0 + step));

    /// <summary>Moves the average toward the trained network after optimizer step <paramref name="step"/>.</summary>
    public void Update(long step)
    {
        float decay = DecayAt(Decay, step);
        for (int i = 0; i < _averaged.Count; i++)
            Network.Backend.MovingAverage(_averaged[i].Value, _trained[i].Value, decay);
    }

    /// <summary>The averaged tensors under checkpoint names ("ema.0.weight", ...).</summary>
    public IEnumerable<(string Name, Tensor Value)> State => _averaged.Select(t => (CheckpointPrefix + t.Name, t.Value));

    /// <summary>Restores the average from a checkpoint's tensors (names without the prefix).</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> saved, string path)
    {
        foreach (var (name, value) in _averaged)
        {
            if (!saved.TryGetValue(name, out var source) || !source.SameShape(value.Shape))
                throw new MnistException($"{path}: the weight average lacks {name} or has another shape; remove it or drop --resume");
            value.CopyFrom(source);
        }
    }
}
