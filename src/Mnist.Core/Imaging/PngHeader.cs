namespace Mnist.Core.Imaging;

/// <summary>PNG colour types (IHDR byte 9).</summary>
public enum PngColorType : byte
{
    Grey = 0,
    Rgb = 2,
    Palette = 3,
    GreyAlpha = 4,
    Rgba = 6,
}

/// <summary>The IHDR chunk: image size and how its samples are stored.</summary>
public readonly record struct PngHeader(int Width, int Height, int BitDepth, PngColorType ColorType, bool Interlaced)
{
    /// <summary>Samples per pixel for the colour type (a palette index counts as one).</summary>
    public int SamplesPerPixel => ColorType switch
    {
        PngColorType.Grey or PngColorType.Palette => 1,
        PngColorType.GreyAlpha => 2,
        PngColorType.Rgb => 3,
        _ => 4,
    };

    public int BitsPerPixel => SamplesPerPixel * BitDepth;

    /// <summary>The filter's byte distance to the "left" pixel: whole bytes per pixel, at least one.</summary>
    public int FilterStride => Math.Max(1, BitsPerPixel / 8);

    /// <summary>Bytes of one scanline of <paramref name="width"/> pixels, without its filter-type byte.</summary>
    public long RowBytes(int width) => ((long)width * BitsPerPixel + 7) / 8;

    /// <summary>
    /// The exact length of the decompressed image data: every scanline (of every Adam7 pass when
    /// interlaced) with its filter byte. Decoding reads exactly this much and refuses anything else.
    /// </summary>
    public long DecompressedLength()
    {
        if (!Interlaced) return Height * (1 + RowBytes(Width));
        long total = 0;
        foreach (var pass in Adam7.Passes)
        {
            var (w, h) = pass.Size(Width, Height);
            if (w > 0 && h > 0) total += h * (1 + RowBytes(w));
        }
        return total;
    }

    /// <summary>Reads and validates the 13 bytes of IHDR data.</summary>
    internal static PngHeader Parse(ReadOnlySpan<byte> data)
    {
        uint width = ReadUInt32BigEndian(data), height = ReadUInt32BigEndian(data[4..]);
        byte depth = data[8], type = data[9], compression = data[10], filter = data[11], interlace = data[12];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw Bad($"width and height must be 1..2^31-1, got {width}x{height}");
        if (!AllowedDepths(type, out var depths))
            throw Bad($"colour type {type} does not exist (allowed: 0, 2, 3, 4, 6)");
        if (Array.IndexOf(depths, depth) < 0)
            throw Bad($"bit depth {depth} is not allowed for colour type {type} (allowed: {string.Join(", ", depths)})");
        if (compression != 0) throw Bad($"compression method {compression} does not exist (only 0)");
        if (filter != 0) throw Bad($"filter method {filter} does not exist (only 0)");
        if (interlace > 1) throw Bad($"interlace method {interlace} does not exist (only 0 or 1)");
        return new PngHeader((int)width, (int)height, depth, (PngColorType)type, interlace == 1);
    }

    private static bool AllowedDepths(byte type, out byte[] depths)
    {
        depths = type switch
        {
            0 => [1, 2, 4, 8, 16],
            3 => [1, 2, 4, 8],
            2 or 4 or 6 => [8, 16],
            _ => [],
        };
        return depths.Length > 0;
    }

    internal static uint ReadUInt32BigEndian(ReadOnlySpan<byte> bytes) =>
        System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);

    private static PngFormatException Bad(string message) => new(PngErrorCode.BadHeader, message);
}
