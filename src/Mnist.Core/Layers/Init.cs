using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>How a weighted layer draws its starting weights.</summary>
public enum InitScheme
{
    /// <summary>Kaiming normal on fan-in: deviation √(2/fanIn). For the ReLU family.</summary>
    He,
    /// <summary>Glorot uniform: ±√(6/(fanIn+fanOut)). For sigmoid and tanh.</summary>
    Xavier,
}

/// <summary>A layer with weights that <see cref="Init"/> can draw.</summary>
public interface IInitializable
{
    /// <summary>Draws the weights from <paramref name="rng"/> and zeroes the biases.</summary>
    void Initialize(InitScheme scheme, Rng rng);
}

/// <summary>
/// A layer whose kind decides how the weights feeding it should start: an activation, or a block
/// that ends in one. <see cref="Models.ModelBuilder"/> gives each weighted layer the preference of
/// the first such layer after it.
/// </summary>
public interface IInitPreference
{
    InitScheme PreferredInit { get; }
}

/// <summary>
/// Weight initialisation driven by an <see cref="Rng"/>, so a seed fixes the starting network:
/// drawn on the host and uploaded, the same numbers on every backend.
/// </summary>
public static class Init
{
    public static void He(Tensor weights, int fanIn, Rng rng)
    {
        float std = MathF.Sqrt(2f / fanIn);
        var w = new float[weights.Length];
        for (int i = 0; i < w.Length; i++) w[i] = std * rng.NextGaussian();
        weights.CopyFromHost(w);
    }

    public static void Xavier(Tensor weights, int fanIn, int fanOut, Rng rng)
    {
        float limit = MathF.Sqrt(6f / (fanIn + fanOut));
        var w = new float[weights.Length];
        for (int i = 0; i < w.Length; i++) w[i] = limit * (2f * rng.NextFloat() - 1f);
        weights.CopyFromHost(w);
    }

    public static void Weights(Tensor weights, int fanIn, int fanOut, InitScheme scheme, Rng rng)
    {
        if (scheme == InitScheme.Xavier) Xavier(weights, fanIn, fanOut, rng);
        else He(weights, fanIn, rng);
    }

    /// <summary>Initialises every initialisable layer of <paramref name="layers"/> with one scheme.</summary>
    public static void Apply(IEnumerable<Layer> layers, InitScheme scheme, Rng rng)
    {
        foreach (var layer in layers)
            if (layer is IInitializable init) init.Initialize(scheme, rng);
    }
}
