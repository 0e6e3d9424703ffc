namespace Mnist.Core.Imaging;

/// <summary>
/// How large an image the decoder accepts. Checked on IHDR, before any image data is inflated or
/// any pixel buffer allocated, so a tiny file claiming a huge image costs nothing.
/// </summary>
public sealed record PngLimits
{
    /// <summary>The hard ceiling on <see cref="MaxPixels"/>: 16 MP (4096 × 4096).</summary>
    public const long HardMaxPixels = 4096L * 4096;

    /// <summary>4096 × 4096 pixels, at most 16384 on a side.</summary>
    public static PngLimits Default { get; } = new();

    /// <summary>Largest width × height accepted (1..<see cref="HardMaxPixels"/>).</summary>
    public long MaxPixels
    {
        get;
        init => field = value is >= 1 and <= HardMaxPixels
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxPixels), value, $"must be 1..{HardMaxPixels}");
    } = HardMaxPixels;

    /// <summary>Largest width or height accepted.</summary>
    public int MaxSide
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxSide), value, "must be positive");
    } = 16384;

    internal void Check(PngHeader header)
    {
        long pixels = (long)header.Width * header.Height;
        if (header.Width > MaxSide || header.Height > MaxSide || pixels > MaxPixels)
            throw new PngFormatException(PngErrorCode.TooLarge,
                $"{header.Width}x{header.Height} exceeds the limit of {MaxPixels} pixels and {MaxSide} per side");
    }
}
