using Mnist.Core.Tensors;

namespace Mnist.Core.IO;

/// <summary>What <see cref="SafeTensors"/> read: tensors in header order, and the string metadata.</summary>
public sealed class SafeTensorsFile
{
    private readonly OrderedDictionary<string, Tensor> _tensors;

    internal SafeTensorsFile(string source, OrderedDictionary<string, Tensor> tensors, Dictionary<string, string> metadata)
    {
        Source = source;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file (or description of the bytes) this came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Name → tensor; enumerates in the header's order.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>The tensors as (name, value) pairs in the header's order.</summary>
    public IEnumerable<(string Name, Tensor Value)> Entries => _tensors.Select(kv => (kv.Key, kv.Value));

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The named tensor; <see cref="MnistException"/> naming the file when it is absent.</summary>
    public Tensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t
            : throw new MnistException($"'{Source}' has no tensor '{name}' (it has: {string.Join(", ", _tensors.Keys)})");

    /// <summary>The named tensor, which must have <paramref name="shape"/>.</summary>
    public Tensor Get(string name, params int[] shape)
    {
        var t = Get(name);
        if (!t.SameShape(shape))
            throw new MnistException($"'{Source}': tensor '{name}' has shape {Tensor.ShapeText(t.Shape)}, expected {Tensor.ShapeText(shape)}");
        return t;
    }

    /// <summary>The metadata value for <paramref name="key"/>; <see cref="MnistException"/> when absent.</summary>
    public string GetMetadata(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new MnistException($"'{Source}' has no metadata entry '{key}'");
}
