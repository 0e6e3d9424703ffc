using System.Text.Json;
using Mnist.Core.Backends;
using Mnist.Core.Data;
using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.IO;

/// <summary>A model read back from disk: the network, how it was built and how its inputs are normalised.</summary>
public sealed record LoadedModel(Sequential Network, ModelConfig Config, Normalization Normalization,
    IReadOnlyDictionary<string, string> Metadata, SafeTensorsFile File)
{
    /// <summary>A metadata entry, or null.</summary>
    public string? Meta(string key) => Metadata.TryGetValue(key, out var v) ? v : null;
}

/// <summary>
/// Saves and loads models as safetensors: parameters and buffers by their dotted names
/// ("0.weight", "4.running_mean"), the model config and normalisation in the header metadata.
/// Loading rebuilds the network from the config and checks that every tensor it needs is there
/// with the right shape, and that nothing unexpected is.
/// </summary>
public static class ModelFile
{
    public const string ConfigKey = "mnist.config";
    public const string NormalizationKey = "mnist.normalization";
    public const string FormatKey = "mnist.format";
    public const string FormatVersion = "1";

    /// <summary>The model's named tensors: parameters, then buffers.</summary>
    public static List<(string Name, Tensor Value)> NamedTensors(Sequential network)
    {
        var list = new List<(string, Tensor)>();
        foreach (var (name, p) in network.NamedParameters) list.Add((name, p.Value));
        foreach (var (name, t) in network.Buffers) list.Add((name, t));
        return list;
    }

    public static Dictionary<string, string> Metadata(ModelConfig config, Normalization normalization) => new()
    {
        [FormatKey] = FormatVersion,
        [ConfigKey] = config.ToJson(indented: false),
        [NormalizationKey] = JsonSerializer.Serialize(new { mean = normalization.Mean, std = normalization.Std }),
    };

    /// <summary>
    /// Writes the model atomically, its tensors downloaded from wherever they live;
    /// <paramref name="extraTensors"/> and <paramref name="extraMetadata"/> add optimizer state and metadata.
    /// </summary>
    public static void Save(string path, Sequential network, ModelConfig config, Normalization normalization,
        IEnumerable<(string Name, Tensor Value)>? extraTensors = null, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var tensors = NamedTensors(network);
        if (extraTensors is not null) tensors.AddRange(extraTensors);
        var metadata = Metadata(config, normalization);
        if (extraMetadata is not null)
            foreach (var (k, v) in extraMetadata) metadata[k] = v;
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Reads a model file onto the CPU. Tensors whose names start with one of
    /// <paramref name="extraPrefixes"/> (a checkpoint's optimizer state) are allowed beside the model's own.
    /// </summary>
    public static LoadedModel Load(string path, params string[] extraPrefixes) => Load(path, Backend.Cpu, extraPrefixes);

    /// <summary>Reads a model file and uploads its network to <paramref name="backend"/> (files are the same whatever the device).</summary>
    public static LoadedModel Load(string path, Backend backend, params string[] extraPrefixes)
    {
        if (!System.IO.File.Exists(path)) throw new MnistException($"model file not found: {path}");
        return Load(SafeTensors.Read(path), backend, extraPrefixes);
    }

    /// <summary><see cref="Load(string, string[])"/> of a file already read, onto the CPU (errors name its <see cref="SafeTensorsFile.Source"/>).</summary>
    public static LoadedModel Load(SafeTensorsFile file, params string[] extraPrefixes) => Load(file, Backend.Cpu, extraPrefixes);

    /// <summary><see cref="Load(string, Backend, string[])"/> of a file already read.</summary>
    public static LoadedModel Load(SafeTensorsFile file, Backend backend, params string[] extraPrefixes)
    {
        string path = file.Source;
        var config = ModelConfig.FromJson(RequireMeta(file, ConfigKey));
        var normalization = ParseNormalization(file, RequireMeta(file, NormalizationKey));
        Sequential network;
        try
        {
            network = ModelBuilder.Build(config, seed: 0, backend);
        }
        catch (ArgumentException e)
        {
            throw new MnistException($"{path}: the model config cannot be built: {e.Message}", e);
        }
        var expected = NamedTensors(network);
        foreach (var (name, target) in expected)
        {
            target.CopyFrom(file.Get(name, target.Shape.ToArray()));
        }
        var known = expected.Select(e => e.Name).ToHashSet();
        var unknown = file.Tensors.Keys.Where(n => !known.Contains(n) && !extraPrefixes.Any(n.StartsWith)).ToList();
        if (unknown.Count > 0)
            throw new MnistException($"{path}: unexpected tensors for this model: {string.Join(", ", unknown.Take(5))}");
        return new LoadedModel(network, config, normalization, file.Metadata, file);
    }

    private static string RequireMeta(SafeTensorsFile file, string key) =>
        file.Metadata.TryGetValue(key, out var value) ? value
            : throw new MnistException($"{file.Source}: not a Mnist.Experiments model (metadata '{key}' is missing)");

    private static Normalization ParseNormalization(SafeTensorsFile file, string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            float mean = doc.RootElement.GetProperty("mean").GetSingle();
            float std = doc.RootElement.GetProperty("std").GetSingle();
            // pixels are in [0,1]: any real mean and std are near them (MNIST's: 0.1307, 0.3081)
            if (!(std >= 1e-6f && std <= 1e6f) || !(Math.Abs(mean) <= 1e6f)) throw new FormatException($"mean {mean}, std {std}");
            return new Normalization(mean, std);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new MnistException($"{file.Source}: invalid normalisation metadata: {e.Message}", e);
        }
    }
}
