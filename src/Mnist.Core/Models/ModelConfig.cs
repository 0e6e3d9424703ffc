using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Mnist.Core.Models;

/// <summary>
/// A network described as data: input shape (per sample), number of classes and the layers in
/// order. It round-trips through JSON (camelCase, a "type" field on each layer) and is what a
/// saved model carries next to its weights.
/// </summary>
public sealed record ModelConfig(int[] InputShape, int NumClasses, IReadOnlyList<LayerSpec> Layers, string? Name = null)
{
    /// <summary>The per-sample shape of an MNIST image, [1, 28, 28] (a fresh array each time).</summary>
    public static int[] MnistInput => [1, 28, 28];

    private static readonly JsonSerializerOptions Options = CreateOptions(indented: true);
    private static readonly JsonSerializerOptions CompactOptions = CreateOptions(indented: false);

    public string ToJson(bool indented = true) => JsonSerializer.Serialize(this, indented ? Options : CompactOptions);

    public static ModelConfig FromJson(string json)
    {
        ModelConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<ModelConfig>(json, Options);
        }
        catch (JsonException e)
        {
            string hint = e.Message.Contains("discriminator", StringComparison.Ordinal) ? $" (layer types: {string.Join(", ", LayerKinds.Names)})" : "";
            throw new MnistException($"invalid model config: {e.Message}{hint}", e);
        }
        catch (NotSupportedException e)
        {
            throw new MnistException($"invalid model config: {e.Message}", e);
        }
        if (config is null || config.InputShape is null || config.Layers is null)
            throw new MnistException("invalid model config: inputShape, numClasses and layers are required");
        foreach (var spec in config.Layers)
            if (spec is null) throw new MnistException("invalid model config: a layer is null");
        return config;
    }

    /// <summary>Same content (records compare arrays by reference, so compare the JSON).</summary>
    public bool SameAs(ModelConfig other) => ToJson(false) == other.ToJson(false);

    private static JsonSerializerOptions CreateOptions(bool indented) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        AllowOutOfOrderMetadataProperties = true,
        RespectRequiredConstructorParameters = true,
        WriteIndented = indented,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { LayerKinds.DescribeSpecs } },
    };
}
