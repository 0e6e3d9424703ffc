using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Augmentation;

/// <summary>
/// What the sampler precomputes for one image size: the output pixels' coordinates, flattened and
/// padded to whole 8-float vectors, and the layout of the zero-bordered copy of the source it
/// reads (one zero column and row before the image, two after), which lets every sample read its
/// four neighbours without a bounds check once coordinates are clamped to [−1, size].
/// </summary>
internal sealed class WarpGeometry
{
    public const int Lanes = 8;

    public WarpGeometry(int height, int width)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), "image sides must be positive");
        (Height, Width) = (height, width);
        Pixels = height * width;
        PaddedPixels = (Pixels + Lanes - 1) / Lanes * Lanes;
        SourceStride = width + 3;
        SourceLength = (height + 3) * SourceStride;
        GridX = new float[PaddedPixels];
        GridY = new float[PaddedPixels];
        for (int i = 0; i < Pixels; i++) (GridX[i], GridY[i]) = (i % width, i / width);
    }

    public int Height { get; }
    public int Width { get; }
    public int Pixels { get; }
    /// <summary>Pixels rounded up to whole vectors (the extra lanes sample pixel (0, 0) and are dropped).</summary>
    public int PaddedPixels { get; }
    public int SourceStride { get; }
    public int SourceLength { get; }
    public float[] GridX { get; }
    public float[] GridY { get; }

    /// <summary>Copies the image's rows, as values in [0, 1], inside the zero border (which is never written).</summary>
    public void LoadSource(ReadOnlySpan<byte> image, ReadOnlySpan<float> unitOfByte, Span<float> source)
    {
        for (int y = 0; y < Height; y++)
        {
            var row = image.Slice(y * Width, Width);
            var target = source.Slice((y + 1) * SourceStride + 1, Width);
            for (int x = 0; x < row.Length; x++) target[x] = unitOfByte[row[x]];
        }
    }
}

/// <summary>
/// Bilinear resampling of one image through a <see cref="SamplingMatrix"/> plus an optional
/// per-pixel displacement, zero outside the image, eight output pixels at a time. Every lane
/// does the same IEEE operations in the same order (no fused multiply-add), so the result does
/// not depend on the instruction set; <see cref="AugmentationReference"/> is the float64 check.
/// </summary>
internal static class BilinearWarp
{
    /// <summary>Read the four neighbours with AVX2 gathers (else lane by lane; same values). Tests switch it.</summary>
    internal static bool UseGather = Avx2.IsSupported;

    /// <param name="source">The bordered source (<see cref="WarpGeometry.LoadSource"/>).</param>
    /// <param name="shiftX">Per-pixel displacement added to the source x, PaddedPixels long (empty: none); likewise shiftY.</param>
    /// <param name="output">PaddedPixels values in the source's units.</param>
    public static unsafe void Sample(WarpGeometry g, ReadOnlySpan<float> source, in SamplingMatrix m,
        ReadOnlySpan<float> shiftX, ReadOnlySpan<float> shiftY, Span<float> output)
    {
        if (source.Length < g.SourceLength || output.Length < g.PaddedPixels) throw new ArgumentException("buffer too small");
        bool displaced = !shiftX.IsEmpty;
        if (displaced && (shiftX.Length < g.PaddedPixels || shiftY.Length < g.PaddedPixels)) throw new ArgumentException("displacement too small");
        var (xx, xy, x0) = (Vector256.Create(m.Xx), Vector256.Create(m.Xy), Vector256.Create(m.X0));
        var (yx, yy, y0) = (Vector256.Create(m.Yx), Vector256.Create(m.Yy), Vector256.Create(m.Y0));
        var low = Vector256.Create(-1f);
        var (highX, highY) = (Vector256.Create((float)g.Width), Vector256.Create((float)g.Height));
        var stride = Vector256.Create(g.SourceStride);
        var origin = Vector256.Create(g.SourceStride + 1); // where pixel (0, 0) sits in the bordered source
        bool gather = UseGather;
        fixed (float* src = source, gridX = g.GridX, gridY = g.GridY, dx = shiftX, dy = shiftY, o = output)
            for (int i = 0; i < g.PaddedPixels; i += WarpGeometry.Lanes)
            {
                var x = Vector256.Load(gridX + i);
                var y = Vector256.Load(gridY + i);
                var sx = xx * x + xy * y + x0;
                var sy = yx * x + yy * y + y0;
                if (displaced)
                {
                    sx += Vector256.Load(dx + i);
                    sy += Vector256.Load(dy + i);
                }
                sx = Vector256.MinNative(Vector256.MaxNative(sx, low), highX);
                sy = Vector256.MinNative(Vector256.MaxNative(sy, low), highY);
                var floorX = Vector256.Floor(sx);
                var floorY = Vector256.Floor(sy);
                var fx = sx - floorX;
                var fy = sy - floorY;
                var at = Vector256.ConvertToInt32(floorY) * stride + Vector256.ConvertToInt32(floorX) + origin;
                var one = Vector256<int>.One;
                var v00 = Gather(src, at, gather);
                var v01 = Gather(src, at + one, gather);
                var v10 = Gather(src, at + stride, gather);
                var v11 = Gather(src, at + stride + one, gather);
                var top = v00 + fx * (v01 - v00);
                var bottom = v10 + fx * (v11 - v10);
                (top + fy * (bottom - top)).Store(o + i);
            }
    }

    private static unsafe Vector256<float> Gather(float* source, Vector256<int> at, bool gather) =>
        gather
            ? Avx2.GatherVector256(source, at, 4)
            : Vector256.Create(source[at.GetElement(0)], source[at.GetElement(1)], source[at.GetElement(2)], source[at.GetElement(3)],
                source[at.GetElement(4)], source[at.GetElement(5)], source[at.GetElement(6)], source[at.GetElement(7)]);
}
