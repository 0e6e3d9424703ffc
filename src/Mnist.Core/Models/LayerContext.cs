using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Models;

/// <summary>What a layer kind may need from the model around it while <see cref="ModelBuilder"/> builds it.</summary>
public sealed class LayerContext
{
    private readonly Rng _generators;

    internal LayerContext(int[] inputShape, Rng generators, Backend backend)
    {
        InputShape = inputShape;
        _generators = generators;
        Backend = backend;
    }

    /// <summary>Where the model's tensors live: give it to the layer.</summary>
    public Backend Backend { get; }

    /// <summary>The per-sample shape the layer receives (batch axis excluded).</summary>
    public int[] InputShape { get; }

    /// <summary>Elements per sample (a dense layer's in-features).</summary>
    public int Features => Tensor.CountOf(InputShape);

    /// <summary>The channels of a [C, H, W] input; a user error naming <paramref name="kind"/> for any other shape.</summary>
    public int ImageChannels(string kind) =>
        InputShape.Length == 3 ? InputShape[0] : throw new MnistException($"{kind} needs a [C, H, W] input, not {Tensor.ShapeText(InputShape)}");

    /// <summary>A random key of the layer's own (dropout masks), drawn from the model's seed in layer order.</summary>
    public ulong NewRandomKey() => _generators.NextULong();
}
