namespace Mnist.Core.Kernels;

/// <summary>
/// im2col: unfolds one C×H×W image into a (C·KH·KW)×(OH·OW) matrix so a convolution becomes a GEMM;
/// col2im folds such a matrix back, adding overlapping contributions.
/// </summary>
public static class Im2Col
{
    public static void Unfold(in ConvGeometry g, ReadOnlySpan<float> image, Span<float> cols)
        => Im2ColReference.Unfold(g, image, cols);

    /// <summary>Adds the column matrix back into <paramref name="image"/> (which the caller zeroes).</summary>
    public static void Fold(in ConvGeometry g, ReadOnlySpan<float> cols, Span<float> image)
        => Im2ColReference.Fold(g, cols, image);
}
