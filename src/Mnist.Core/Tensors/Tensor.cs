namespace Mnist.Core.Tensors;

/// <summary>
/// A float32 tensor: a shape over contiguous row-major storage. The storage may be larger than
/// the shape needs (its capacity), so a buffer sized for a full batch also serves the smaller
/// last batch without a new allocation.
/// </summary>
public sealed class Tensor
{
    private float[] _data;
    private int[] _shape;

    public Tensor(params int[] shape)
    {
        _shape = (int[])shape.Clone();
        Length = CountOf(_shape);
        _data = new float[Length];
    }

    public Tensor(float[] data, params int[] shape)
    {
        _shape = (int[])shape.Clone();
        Length = CountOf(_shape);
        if (data.Length < Length)
            throw new ArgumentException($"storage of {data.Length} floats cannot hold shape {ShapeText(shape)}");
        _data = data;
    }

    /// <summary>Number of elements the shape covers.</summary>
    public int Length { get; private set; }

    public int Rank => _shape.Length;

    public ReadOnlySpan<int> Shape => _shape;

    public int Dim(int axis) => _shape[axis];

    /// <summary>The raw storage (may be longer than <see cref="Length"/>).</summary>
    public float[] Storage => _data;

    public Span<float> Span => _data.AsSpan(0, Length);

    public ref float this[int index] => ref _data[index];

    /// <summary>
    /// Gives the tensor a new shape, growing the storage only when it is too small. Contents are
    /// kept only up to the old length; callers overwrite them.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        int n = CountOf(shape);
        if (n > _data.Length) _data = new float[n];
        if (!SameShape(shape)) _shape = (int[])shape.Clone();
        Length = n;
        return this;
    }

    /// <summary>Same storage, another shape of the same element count (like numpy's view).</summary>
    public Tensor View(params int[] shape)
    {
        if (CountOf(shape) != Length)
            throw new ArgumentException($"cannot view {ShapeText(_shape)} as {ShapeText(shape)}");
        return new Tensor(_data, shape);
    }

    public bool SameShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(_shape);

    public Tensor Clone()
    {
        var copy = new Tensor(_shape);
        Span.CopyTo(copy.Span);
        return copy;
    }

    public void Clear() => Span.Clear();

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
