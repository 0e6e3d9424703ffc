using System.Buffers.Binary;
using System.IO.Compression;

namespace Mnist.Core.Imaging;

/// <summary>How the encoder picks each scanline's filter.</summary>
public enum PngFilterChoice
{
    /// <summary>Filter 0 on every row: fastest.</summary>
    None,
    /// <summary>Per row, the filter whose output has the smallest sum of |signed bytes| (the usual heuristic).</summary>
    Adaptive,
}

/// <summary>
/// Writes 8-bit, non-interlaced PNGs (grey, grey+alpha, RGB or RGBA, following the image's format):
/// IHDR, one IDAT (zlib via <see cref="ZLibStream"/>) and IEND, each with its CRC-32.
/// </summary>
public static class PngEncoder
{
    public static byte[] Encode(PngImage image, PngFilterChoice filters = PngFilterChoice.Adaptive,
        CompressionLevel level = CompressionLevel.Optimal)
    {
        using var file = new MemoryStream();
        Write(file, image, filters, level);
        return file.ToArray();
    }

    public static void WriteFile(string path, PngImage image, PngFilterChoice filters = PngFilterChoice.Adaptive)
    {
        using var file = File.Create(path);
        Write(file, image, filters, CompressionLevel.Optimal);
    }

    /// <summary>A greyscale PNG of values in [0,1] (an MNIST digit, a preprocessed drawing).</summary>
    /// <param name="scale">Each value becomes a scale × scale block (nearest neighbour), for readable thumbnails.</param>
    /// <param name="darkInk">Write 1 as black on a white background instead of white on black.</param>
    public static byte[] EncodeUnitGrey(ReadOnlySpan<float> values, int width, int height, int scale = 1, bool darkInk = false)
    {
        if (values.Length != width * height) throw new ArgumentException($"{values.Length} values is not {width}x{height}");
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "must be positive");
        int w = width * scale, h = height * scale;
        var bytes = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                byte v = (byte)MathF.Round(Math.Clamp(values[(y / scale) * width + x / scale], 0f, 1f) * 255f);
                bytes[y * w + x] = darkInk ? (byte)(255 - v) : v;
            }
        return Encode(new PngImage(w, h, PngPixelFormat.Grey, bytes));
    }

    /// <summary>A "data:image/png;base64,..." URL of the PNG, for HTML pages.</summary>
    public static string ToDataUrl(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    public static void Write(Stream output, PngImage image, PngFilterChoice filters, CompressionLevel level)
    {
        output.Write(PngDecoder.Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], image.Height);
        ihdr[8] = 8;
        ihdr[9] = (byte)ColorTypeOf(image.Format);
        // compression, filter method and interlace are all 0
        WriteChunk(output, "IHDR", ihdr);
        WriteChunk(output, "IDAT", CompressScanlines(image, filters, level));
        WriteChunk(output, "IEND", []);
    }

    private static PngColorType ColorTypeOf(PngPixelFormat format) => format switch
    {
        PngPixelFormat.Grey => PngColorType.Grey,
        PngPixelFormat.GreyAlpha => PngColorType.GreyAlpha,
        PngPixelFormat.Rgb => PngColorType.Rgb,
        _ => PngColorType.Rgba,
    };

    private static byte[] CompressScanlines(PngImage image, PngFilterChoice filters, CompressionLevel level)
    {
        int stride = image.Channels, rowBytes = image.Width * stride;
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, level, leaveOpen: true))
        {
            var zeros = new byte[rowBytes];
            var best = new byte[1 + rowBytes];
            var candidate = new byte[rowBytes];
            for (int y = 0; y < image.Height; y++)
            {
                ReadOnlySpan<byte> row = image.Pixels.AsSpan(y * rowBytes, rowBytes);
                ReadOnlySpan<byte> above = y == 0 ? zeros : image.Pixels.AsSpan((y - 1) * rowBytes, rowBytes);
                if (filters == PngFilterChoice.None)
                {
                    best[0] = PngFilters.None;
                    row.CopyTo(best.AsSpan(1));
                }
                else
                {
                    long bestScore = long.MaxValue;
                    for (int f = PngFilters.None; f <= PngFilters.Paeth; f++)
                    {
                        PngFilters.Filter(f, row, above, stride, candidate);
                        long score = 0;
                        foreach (byte b in candidate) score += b < 128 ? b : 256 - b; // |b as a signed byte|
                        if (score < bestScore)
                        {
                            bestScore = score;
                            best[0] = (byte)f;
                            candidate.CopyTo(best, 1);
                        }
                    }
                }
                zlib.Write(best);
            }
        }
        return compressed.ToArray();
    }

    private static void WriteChunk(Stream output, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        System.Text.Encoding.ASCII.GetBytes(type, typeBytes);
        output.Write(typeBytes);
        output.Write(data);
        uint crc = Crc32.Finish(Crc32.Append(Crc32.Append(Crc32.Start, typeBytes), data));
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }
}
