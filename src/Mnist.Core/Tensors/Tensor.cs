using Mnist.Core.Backends;
using Mnist.Core.Backends.Cpu;

namespace Mnist.Core.Tensors;

/// <summary>
/// A float32 tensor: a shape over contiguous row-major storage on a backend (the CPU unless
/// given another). The storage may be larger than the shape needs (its capacity), so a buffer
/// sized for a full batch also serves the smaller last batch without a new allocation. Host
/// memory is reached explicitly: <see cref="CopyFromHost"/>, <see cref="CopyToHost"/> and
/// <see cref="ToArray"/> on any backend (counted transfers), <see cref="Span"/> only where the
/// storage is host memory (the CPU).
/// </summary>
public sealed class Tensor
{
    private DeviceBuffer _storage;
    private int[] _shape;

    /// <summary>A zeroed tensor on the CPU.</summary>
    public Tensor(params int[] shape) : this(Backend.Cpu, shape) { }

    /// <summary>A zeroed tensor on <paramref name="backend"/>.</summary>
    public Tensor(Backend backend, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _shape = (int[])shape.Clone();
        Length = CountOf(_shape);
        _storage = backend.Allocate(Length);
    }

    /// <summary>A CPU tensor over <paramref name="data"/> itself (no copy).</summary>
    public Tensor(float[] data, params int[] shape) : this(CpuBackend.Wrap(data), shape) { }

    /// <summary>A tensor over existing storage (a view).</summary>
    private Tensor(DeviceBuffer storage, int[] shape)
    {
        _shape = (int[])shape.Clone();
        Length = CountOf(_shape);
        if (storage.Length < Length)
            throw new ArgumentException($"storage of {storage.Length} floats cannot hold shape {ShapeText(shape)}");
        _storage = storage;
    }

    /// <summary>Number of elements the shape covers.</summary>
    public int Length { get; private set; }

    public int Rank => _shape.Length;

    public ReadOnlySpan<int> Shape => _shape;

    public int Dim(int axis) => _shape[axis];

    public Backend Backend => _storage.Backend;

    /// <summary>The storage (may be longer than <see cref="Length"/>); views share it.</summary>
    public DeviceBuffer Storage => _storage;

    /// <summary>The elements in host memory without a copy: CPU tensors only (a counted host view).</summary>
    public Span<float> Span => Backend.HostView(this);

    /// <summary>One element through <see cref="Span"/> (CPU tensors only; for tests and small host-side work).</summary>
    public ref float this[int index] => ref Span[index];

    /// <summary>Copies host values into the tensor from element <paramref name="offset"/> on (a counted upload).</summary>
    public void CopyFromHost(ReadOnlySpan<float> source, int offset = 0)
    {
        if (offset < 0 || offset + source.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(source), $"{source.Length} values from {offset} do not fit {this}");
        Backend.Upload(source, _storage, offset);
    }

    /// <summary>Copies <paramref name="target"/>.Length elements from <paramref name="offset"/> on to the host (a counted download).</summary>
    public void CopyToHost(Span<float> target, int offset = 0)
    {
        if (offset < 0 || offset + target.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(target), $"{target.Length} values from {offset} do not fit {this}");
        Backend.Download(_storage, offset, target);
    }

    /// <summary>The elements in a new host array (a counted download).</summary>
    public float[] ToArray()
    {
        var values = new float[Length];
        CopyToHost(values);
        return values;
    }

    /// <summary>Copies <paramref name="source"/>'s elements in (same length), through the host when it lives on another backend.</summary>
    public void CopyFrom(Tensor source)
    {
        if (source.Length != Length) throw new ArgumentException($"cannot copy {source} into {this}");
        if (source.Backend == Backend) Backend.Copy(source, this);
        else CopyFromHost(source.ToArray());
    }

    /// <summary>This tensor when it lives on <paramref name="backend"/>, else a copy there.</summary>
    public Tensor To(Backend backend)
    {
        if (backend == Backend) return this;
        var copy = new Tensor(backend, _shape);
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>
    /// Gives the tensor a new shape, growing the storage only when it is too small. Contents are
    /// kept only up to the old length; callers overwrite them.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        int n = CountOf(shape);
        if (n > _storage.Length) _storage = Backend.Allocate(n);
        if (!SameShape(shape)) _shape = (int[])shape.Clone();
        Length = n;
        return this;
    }

    /// <summary>Same storage, another shape of the same element count (like numpy's view).</summary>
    public Tensor View(params int[] shape)
    {
        if (CountOf(shape) != Length)
            throw new ArgumentException($"cannot view {ShapeText(_shape)} as {ShapeText(shape)}");
        return new Tensor(_storage, shape);
    }

    /// <summary>A view of <paramref name="storage"/> (shared with another tensor) under <paramref name="shape"/>.</summary>
    public static Tensor Over(DeviceBuffer storage, ReadOnlySpan<int> shape) => new(storage, shape.ToArray());

    public bool SameShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(_shape);

    /// <summary>A copy on the same backend.</summary>
    public Tensor Clone()
    {
        var copy = new Tensor(Backend, _shape);
        Backend.Copy(this, copy);
        return copy;
    }

    /// <summary>Sets every element to zero.</summary>
    public void Clear() => Backend.Fill(this, 0f);

    public override string ToString() => $"Tensor{ShapeText(_shape)}";

    public static int CountOf(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException("negative dimension");
            n *= d;
        }
        if (n > int.MaxValue) throw new ArgumentException("tensor too large");
        return (int)n;
    }

    public static string ShapeText(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
