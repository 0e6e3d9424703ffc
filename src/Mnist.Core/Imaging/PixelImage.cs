namespace Mnist.Core.Imaging;

/// <summary>How the bytes of a <see cref="PixelImage"/> are laid out; the value is the channel count.</summary>
public enum PixelLayout
{
    Grey = 1,
    GreyAlpha = 2,
    Rgb = 3,
    Rgba = 4,
}

/// <summary>
/// A decoded 8-bit-per-channel image, row-major, channels interleaved, alpha not premultiplied.
/// Decoding files is the imaging project's job (Mnist.Imaging); the engine only reads pixels.
/// </summary>
public sealed class PixelImage
{
    public PixelImage(int width, int height, PixelLayout layout, byte[] pixels)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), "width and height must be positive");
        if (!Enum.IsDefined(layout)) throw new ArgumentOutOfRangeException(nameof(layout));
        if (pixels.LongLength != (long)width * height * (int)layout)
            throw new ArgumentException($"{pixels.Length} bytes is not {width}x{height}x{(int)layout}", nameof(pixels));
        Width = width;
        Height = height;
        Layout = layout;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public PixelLayout Layout { get; }
    public int Channels => (int)Layout;
    public byte[] Pixels { get; }

    public bool HasAlphaChannel => Layout is PixelLayout.GreyAlpha or PixelLayout.Rgba;

    /// <summary>The channel values of pixel (x, y).</summary>
    public ReadOnlySpan<byte> Pixel(int x, int y) => Pixels.AsSpan((y * Width + x) * Channels, Channels);

    /// <summary>A greyscale image from values in [0,1] (clamped, rounded to bytes).</summary>
    public static PixelImage FromUnitGrey(ReadOnlySpan<float> values, int width, int height)
    {
        if (values.Length != width * height) throw new ArgumentException($"{values.Length} values is not {width}x{height}");
        var bytes = new byte[values.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = UnitToByte(values[i]);
        return new PixelImage(width, height, PixelLayout.Grey, bytes);
    }

    /// <summary>A value in [0,1] (clamped) as a byte, rounded.</summary>
    public static byte UnitToByte(float value) => (byte)MathF.Round(Math.Clamp(value, 0f, 1f) * 255f);
}
