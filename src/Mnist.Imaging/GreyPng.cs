using Mnist.Core.Imaging;

namespace Mnist.Imaging;

/// <summary>
/// Greyscale PNG files from pixels, through SkiaSharp: MNIST digits and feature maps for the web
/// page, thumbnails for the reports, image grids for files.
/// </summary>
public static class GreyPng
{
    /// <summary>An 8-bit greyscale PNG of <paramref name="grey"/> (width × height bytes, row-major).</summary>
    public static byte[] Encode(ReadOnlySpan<byte> grey, int width, int height) =>
        ImageEncoder.Encode(grey, width, height, PixelLayout.Grey, ImageFileFormat.Png, quality: 100);

    /// <summary>Writes <see cref="Encode"/>'s file to <paramref name="path"/> (through a temporary file, so never half-written).</summary>
    public static void WriteFile(string path, ReadOnlySpan<byte> grey, int width, int height)
    {
        var png = Encode(grey, width, height);
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, png);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>A greyscale PNG of values in [0,1] (an MNIST digit, a prepared drawing, feature maps).</summary>
    /// <param name="scale">Each value becomes a scale × scale block (nearest neighbour), for readable thumbnails.</param>
    /// <param name="darkInk">Write 1 as black on a white background instead of white on black.</param>
    public static byte[] EncodeUnit(ReadOnlySpan<float> values, int width, int height, int scale = 1, bool darkInk = false)
    {
        if (values.Length != (long)width * height) throw new ArgumentException($"{values.Length} values is not {width}x{height}");
        ArgumentOutOfRangeException.ThrowIfLessThan(scale, 1);
        int w = width * scale, h = height * scale;
        var bytes = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                byte v = PixelImage.UnitToByte(values[y / scale * width + x / scale]);
                bytes[y * w + x] = darkInk ? (byte)(255 - v) : v;
            }
        return Encode(bytes, w, h);
    }

    /// <summary>A "data:image/png;base64,..." URL of a PNG file, for pages.</summary>
    public static string ToDataUrl(byte[] png) => ImageDataUrl.Of(png, "image/png");
}
