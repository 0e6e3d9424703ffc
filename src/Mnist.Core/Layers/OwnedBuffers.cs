using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// Shapes a layer's owned buffer without allocating when the shape is unchanged (Tensor.Reshape
/// takes an array, and a params call would build one on every pass). When the batch shrinks, the
/// storage is kept and only the small shape array is replaced.
/// </summary>
internal static class OwnedBuffers
{
    public static Tensor Shape(Tensor t, int d0, int d1)
    {
        if (t.Rank == 2 && t.Dim(0) == d0 && t.Dim(1) == d1) return t;
        return t.Reshape(d0, d1);
    }

    public static Tensor Shape(Tensor t, int d0, int d1, int d2, int d3)
    {
        if (t.Rank == 4 && t.Dim(0) == d0 && t.Dim(1) == d1 && t.Dim(2) == d2 && t.Dim(3) == d3) return t;
        return t.Reshape(d0, d1, d2, d3);
    }

    /// <summary>Gives <paramref name="t"/> the shape of <paramref name="like"/>.</summary>
    public static Tensor ShapeLike(Tensor t, Tensor like)
    {
        if (t.SameShape(like.Shape)) return t;
        return t.Reshape(like.Shape.ToArray());
    }

    /// <summary>A fresh empty tensor on <paramref name="backend"/>, to be shaped on first use.</summary>
    public static Tensor Empty(Backend backend) => new(backend, 0);

    /// <summary>
    /// A view of <paramref name="source"/>'s storage under another shape, cached in
    /// <paramref name="view"/> and rebuilt only when the storage or shape changes.
    /// </summary>
    public static Tensor View(ref Tensor? view, Tensor source, ReadOnlySpan<int> shape)
    {
        if (view is not null && ReferenceEquals(view.Storage, source.Storage) && view.SameShape(shape)) return view;
        return view = Tensor.Over(source.Storage, shape);
    }

    /// <summary>Checks a forward input against the per-sample shape a layer was built for (−1: any size).</summary>
    public static void Expect(Tensor input, ReadOnlySpan<int> sampleShape, Layer layer)
    {
        bool ok = input.Rank == sampleShape.Length + 1;
        for (int i = 0; ok && i < sampleShape.Length; i++) ok = sampleShape[i] < 0 || input.Dim(i + 1) == sampleShape[i];
        if (ok) return;
        var dims = new string[sampleShape.Length];
        for (int i = 0; i < dims.Length; i++) dims[i] = sampleShape[i] < 0 ? "?" : sampleShape[i].ToString();
        throw new MnistException($"{layer} expects input [batch, {string.Join(", ", dims)}] but got {Tensor.ShapeText(input.Shape)}");
    }
}
