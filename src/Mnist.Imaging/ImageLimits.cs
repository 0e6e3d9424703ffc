namespace Mnist.Imaging;

/// <summary>
/// How large an image the decoder accepts, by the size its header declares: checked before any
/// pixel is decoded or any pixel buffer allocated, so a small file claiming a huge image (a
/// decompression bomb) costs nothing.
/// </summary>
public sealed record ImageLimits
{
    /// <summary>The hard ceiling on <see cref="MaxPixels"/>: 16 MP (a 12 MP phone photo fits).</summary>
    public const long HardMaxPixels = 4096L * 4096;

    /// <summary>16 MP, at most 8192 on a side.</summary>
    public static ImageLimits Default { get; } = new();

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
    } = 8192;

    internal void Check(int width, int height, string format)
    {
        if (width < 1 || height < 1)
            throw new ImageFormatException(ImageErrorCode.BadData, $"the {format} header declares a {width}x{height} image");
        if (width > MaxSide || height > MaxSide || (long)width * height > MaxPixels)
            throw new ImageFormatException(ImageErrorCode.TooLarge,
                $"the {format} is {width}x{height}, over the limit of {MaxPixels / 1e6:0.#} megapixels and {MaxSide} pixels a side");
    }
}
