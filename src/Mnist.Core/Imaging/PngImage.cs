namespace Mnist.Core.Imaging;

/// <summary>How the bytes of a <see cref="PngImage"/> are laid out; the value is the channel count.</summary>
public enum PngPixelFormat
{
    Grey = 1,
    GreyAlpha = 2,
    Rgb = 3,
    Rgba = 4,
}

/// <summary>
/// An 8-bit-per-channel image, row-major, channels interleaved. The decoder always returns
/// <see cref="PngPixelFormat.GreyAlpha"/> (grey sources) or <see cref="PngPixelFormat.Rgba"/>
/// (colour and palette sources); the encoder takes any format.
/// </summary>
public sealed class PngImage
{
    public PngImage(int width, int height, PngPixelFormat format, byte[] pixels)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), "width and height must be positive");
        if (!Enum.IsDefined(format)) throw new ArgumentOutOfRangeException(nameof(format));
        if (pixels.LongLength != (long)width * height * (int)format)
            throw new ArgumentException($"{pixels.Length} bytes is not {width}x{height}x{(int)format}", nameof(pixels));
        Width = width;
        Height = height;
        Format = format;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public PngPixelFormat Format { get; }
    public int Channels => (int)Format;
    public byte[] Pixels { get; }

    /// <summary>The IHDR of the file this image was decoded from (null for images built in memory).</summary>
    public PngHeader? Source { get; init; }

    public bool HasAlphaChannel => Format is PngPixelFormat.GreyAlpha or PngPixelFormat.Rgba;

    /// <summary>The channel values of pixel (x, y).</summary>
    public ReadOnlySpan<byte> Pixel(int x, int y) => Pixels.AsSpan((y * Width + x) * Channels, Channels);

    /// <summary>A greyscale image from values in [0,1] (clamped, rounded to bytes).</summary>
    public static PngImage FromUnitGrey(ReadOnlySpan<float> values, int width, int height)
    {
        if (values.Length != width * height) throw new ArgumentException($"{values.Length} values is not {width}x{height}");
        var bytes = new byte[values.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)MathF.Round(Math.Clamp(values[i], 0f, 1f) * 255f);
        return new PngImage(width, height, PngPixelFormat.Grey, bytes);
    }
}
