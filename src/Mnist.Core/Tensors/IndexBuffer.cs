using Mnist.Core.Backends;

namespace Mnist.Core.Tensors;

/// <summary>
/// Ints on a backend: a batch's labels, max pooling's winners. Like a tensor's, its storage
/// grows to the largest length asked for and is then reused.
/// </summary>
public sealed class IndexBuffer(Backend backend)
{
    private DeviceBuffer _storage = backend.AllocateIndices(0);

    public Backend Backend { get; } = backend;

    public DeviceBuffer Storage => _storage;

    /// <summary>Elements in use.</summary>
    public int Length { get; private set; }

    /// <summary>Uses <paramref name="length"/> elements, growing the storage if needed (contents unspecified).</summary>
    public IndexBuffer Resize(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length > _storage.Length) _storage = Backend.AllocateIndices(length);
        Length = length;
        return this;
    }

    /// <summary>Resizes to <paramref name="source"/>'s length and uploads it (counted).</summary>
    public void CopyFromHost(ReadOnlySpan<int> source)
    {
        Resize(source.Length);
        Backend.Upload(source, _storage);
    }

    /// <summary>The elements in use, in a new host array (a counted download).</summary>
    public int[] ToArray()
    {
        var values = new int[Length];
        Backend.Download(_storage, values);
        return values;
    }
}
