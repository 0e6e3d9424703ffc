namespace Mnist.Core.Layers;

/// <summary>Activations by name, for configs and command lines.</summary>
public static class Activations
{
    /// <summary>The names <see cref="Create"/> accepts (case-insensitive; '-' and '_' ignored).</summary>
    public static IReadOnlyList<string> Names { get; } = ["relu", "leakyrelu", "elu", "swish", "silu", "sigmoid", "tanh"];

    /// <summary>
    /// A new activation layer. <paramref name="slope"/> is LeakyReLU's negative slope (default
    /// 0.01), <paramref name="alpha"/> ELU's saturation (default 1); other activations ignore them.
    /// </summary>
    public static Activation Create(string name, float? slope = null, float? alpha = null) => Normalize(name) switch
    {
        "relu" => new ReLU(),
        "leakyrelu" => new LeakyReLU(slope ?? 0.01f),
        "elu" => new ELU(alpha ?? 1f),
        "swish" or "silu" => new Swish(),
        "sigmoid" => new Sigmoid(),
        "tanh" => new Tanh(),
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
