using System.Buffers;
using System.IO.Compression;

namespace Mnist.Core.Imaging;

/// <summary>
/// A strict PNG decoder (all colour types and bit depths, all filters, Adam7, tRNS) producing 8-bit
/// grey+alpha or RGBA. It refuses anything malformed with a <see cref="PngFormatException"/>, and
/// it is safe against decompression bombs: the image size is checked against
/// <see cref="PngLimits"/> before anything is inflated, and inflation stops at exactly the number
/// of bytes IHDR implies (one byte more is refused as too_large).
/// Ancillary chunks other than tRNS are checked (CRC) and skipped; bytes after IEND are ignored.
/// </summary>
public static class PngDecoder
{
    /// <summary>The eight bytes every PNG file starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static PngImage Decode(byte[] png, PngLimits? limits = null) => Decode(png.AsMemory(), limits);

    /// <summary>Decodes a file; a missing or unreadable file is a <see cref="MnistException"/>, a bad one names the file.</summary>
    public static PngImage DecodeFile(string path, PngLimits? limits = null)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot read {path}: {e.Message}", e);
        }
        try
        {
            return Decode(bytes, limits);
        }
        catch (PngFormatException e)
        {
            throw new PngFormatException(e.Code, $"{Path.GetFileName(path)}: {e.Problem}", e);
        }
    }

    public static PngImage Decode(ReadOnlyMemory<byte> png, PngLimits? limits = null)
    {
        var pixels = DecodePixels(png, limits, pooled: false, out var header, out var format);
        return new PngImage(header.Width, header.Height, format, pixels) { Source = header };
    }

    /// <summary>
    /// Decodes into an exact-size new array, or (<paramref name="pooled"/>) into one rented from
    /// <see cref="ImagingPools.Bytes"/> that may be longer: the caller uses the first
    /// width × height × channels bytes and returns it. Every pixel is written, so a rented array's
    /// old contents never show through.
    /// </summary>
    internal static byte[] DecodePixels(ReadOnlyMemory<byte> png, PngLimits? limits, bool pooled,
        out PngHeader header, out PngPixelFormat format)
    {
        limits ??= PngLimits.Default;
        var layout = ReadChunks(png.Span, limits);
        header = layout.Header;
        var unpacker = new PngPixelUnpacker(header, layout.PaletteRgba, layout.PaletteCount, layout.TransparentKey);
        format = PngPixelUnpacker.OutputFormat(header);
        long length = (long)header.Width * header.Height * (int)format;
        var pixels = pooled ? ImagingPools.Bytes.Rent(checked((int)length)) : new byte[length];
        try
        {
            using var idat = new IdatStream(png, layout.IdatSegments);
            Inflate(idat, header, unpacker, pixels.AsSpan(0, (int)length));
        }
        catch when (pooled)
        {
            ImagingPools.Bytes.Return(pixels);
            throw;
        }
        return pixels;
    }

    /// <summary>What the chunks say before any image data is inflated.</summary>
    private sealed class Layout
    {
        public PngHeader Header;
        public byte[] PaletteRgba = [];
        public int PaletteCount;
        public int[]? TransparentKey;
        public readonly List<(int Offset, int Length)> IdatSegments = [];
    }

    private static Layout ReadChunks(ReadOnlySpan<byte> file, PngLimits limits)
    {
        if (!file.StartsWith(Signature))
        {
            bool prefix = file.Length < Signature.Length && Signature.StartsWith(file);
            throw prefix
                ? new PngFormatException(PngErrorCode.Truncated, $"only {file.Length} bytes, shorter than the PNG signature")
                : new PngFormatException(PngErrorCode.NotPng, "the data does not start with the PNG signature");
        }
        var reader = new PngChunkReader(file, Signature.Length);
        var first = reader.Next();
        if (first.Type != "IHDR")
            throw new PngFormatException(PngErrorCode.BadChunk, $"the first chunk must be IHDR, found {first.Type}");
        if (first.Length != 13)
            throw new PngFormatException(PngErrorCode.BadChunk, $"IHDR must hold 13 bytes, holds {first.Length}");
        var layout = new Layout { Header = PngHeader.Parse(file.Slice(first.DataOffset, 13)) };
        limits.Check(layout.Header);

        bool sawPalette = false, sawTransparency = false, inIdat = false, idatDone = false;
        while (true)
        {
            if (reader.AtEnd)
                throw new PngFormatException(PngErrorCode.Truncated, "the file ends before its IEND chunk");
            var chunk = reader.Next();
            var data = file.Slice(chunk.DataOffset, chunk.Length);
            if (inIdat && chunk.Type != "IDAT") { inIdat = false; idatDone = true; }
            switch (chunk.Type)
            {
                case "IHDR":
                    throw new PngFormatException(PngErrorCode.BadChunk, "a second IHDR chunk");
                case "PLTE":
                    if (sawPalette) throw new PngFormatException(PngErrorCode.BadChunk, "a second PLTE chunk");
                    if (idatDone || layout.IdatSegments.Count > 0 || inIdat)
                        throw new PngFormatException(PngErrorCode.BadChunk, "PLTE after IDAT");
                    if (sawTransparency) throw new PngFormatException(PngErrorCode.BadChunk, "PLTE after tRNS");
                    ReadPalette(layout, data);
                    sawPalette = true;
                    break;
                case "tRNS":
                    if (sawTransparency) throw new PngFormatException(PngErrorCode.BadChunk, "a second tRNS chunk");
                    if (idatDone || inIdat) throw new PngFormatException(PngErrorCode.BadChunk, "tRNS after IDAT");
                    ReadTransparency(layout, data, sawPalette);
                    sawTransparency = true;
                    break;
                case "IDAT":
                    if (idatDone) throw new PngFormatException(PngErrorCode.BadChunk, "IDAT chunks are not consecutive");
                    inIdat = true;
                    if (chunk.Length > 0) layout.IdatSegments.Add((chunk.DataOffset, chunk.Length));
                    break;
                case "IEND":
                    if (chunk.Length != 0) throw new PngFormatException(PngErrorCode.BadChunk, $"IEND must be empty, holds {chunk.Length} bytes");
                    if (!inIdat && !idatDone) throw new PngFormatException(PngErrorCode.BadChunk, "no IDAT chunk before IEND");
                    if (layout.Header.ColorType == PngColorType.Palette && !sawPalette)
                        throw new PngFormatException(PngErrorCode.BadChunk, "a palette image without a PLTE chunk");
                    return layout;
                default:
                    if (chunk.IsCritical)
                        throw new PngFormatException(PngErrorCode.Unsupported, $"unknown critical chunk {chunk.Type}");
                    break; // ancillary (gAMA, pHYs, tEXt...): CRC checked, contents ignored
            }
        }
    }

    private static void ReadPalette(Layout layout, ReadOnlySpan<byte> data)
    {
        var header = layout.Header;
        if (header.ColorType is PngColorType.Grey or PngColorType.GreyAlpha)
            throw new PngFormatException(PngErrorCode.BadChunk, $"PLTE is not allowed in a {header.ColorType} image");
        int entries = data.Length / 3;
        if (data.Length % 3 != 0 || entries < 1 || entries > 256)
            throw new PngFormatException(PngErrorCode.BadChunk, $"PLTE of {data.Length} bytes is not 1..256 RGB entries");
        if (header.ColorType == PngColorType.Palette && entries > 1 << header.BitDepth)
            throw new PngFormatException(PngErrorCode.BadChunk, $"PLTE has {entries} entries, more than {header.BitDepth}-bit indices reach");
        var rgba = new byte[256 * 4];
        for (int i = 0; i < entries; i++)
        {
            rgba[4 * i] = data[3 * i];
            rgba[4 * i + 1] = data[3 * i + 1];
            rgba[4 * i + 2] = data[3 * i + 2];
            rgba[4 * i + 3] = 255;
        }
        layout.PaletteRgba = rgba;
        layout.PaletteCount = entries;
    }

    private static void ReadTransparency(Layout layout, ReadOnlySpan<byte> data, bool sawPalette)
    {
        var header = layout.Header;
        switch (header.ColorType)
        {
            case PngColorType.Palette:
                if (!sawPalette) throw new PngFormatException(PngErrorCode.BadChunk, "tRNS before PLTE");
                if (data.Length > layout.PaletteCount)
                    throw new PngFormatException(PngErrorCode.BadChunk, $"tRNS has {data.Length} alphas for {layout.PaletteCount} palette entries");
                for (int i = 0; i < data.Length; i++) layout.PaletteRgba[4 * i + 3] = data[i];
                break;
            case PngColorType.Grey:
                if (data.Length != 2) throw new PngFormatException(PngErrorCode.BadChunk, $"grey tRNS must hold 2 bytes, holds {data.Length}");
                layout.TransparentKey = [ReadUInt16(data)];
                break;
            case PngColorType.Rgb:
                if (data.Length != 6) throw new PngFormatException(PngErrorCode.BadChunk, $"RGB tRNS must hold 6 bytes, holds {data.Length}");
                layout.TransparentKey = [ReadUInt16(data), ReadUInt16(data[2..]), ReadUInt16(data[4..])];
                break;
            default:
                throw new PngFormatException(PngErrorCode.BadChunk, $"tRNS is not allowed in a {header.ColorType} image (it has an alpha channel)");
        }
    }

    private static int ReadUInt16(ReadOnlySpan<byte> data) => (data[0] << 8) | data[1];

    /// <summary>How many inflated bytes are asked of zlib at once: whole scanlines, as many as fit (at least one).</summary>
    private const int InflateBlockBytes = 16 * 1024;

    /// <summary>
    /// Inflates the scanlines a block of whole rows at a time (of each Adam7 pass in turn), unfilters
    /// them and unpacks their pixels into place. Reads exactly the length IHDR implies, then checks
    /// nothing follows. A short stream's complete rows are still unfiltered (and their errors
    /// reported) before the shortfall is.
    /// </summary>
    private static void Inflate(Stream idat, PngHeader header, PngPixelUnpacker unpacker, Span<byte> pixels)
    {
        long expected = header.DecompressedLength();
        long maxRow = header.RowBytes(header.Width);
        // scanline buffers from the pool: a wide RGBA image's rows would otherwise be large objects
        var block = ImagingPools.Bytes.Rent(checked((int)Math.Max(InflateBlockBytes, 1 + maxRow)));
        var previous = ImagingPools.Bytes.Rent((int)maxRow);
        long consumed = 0;
        try
        {
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            ReadOnlySpan<Adam7Pass> passes = header.Interlaced ? Adam7.Passes : [Adam7.Whole];
            foreach (var pass in passes)
            {
                var (width, height) = pass.Size(header.Width, header.Height);
                if (width == 0 || height == 0) continue; // empty passes have no scanlines at all
                int rowBytes = (int)header.RowBytes(width);
                int lineLength = 1 + rowBytes;
                int rowsPerBlock = Math.Max(1, InflateBlockBytes / lineLength);
                var above = previous.AsSpan(0, rowBytes);
                above.Clear();
                for (int y = 0; y < height;)
                {
                    var lines = block.AsSpan(0, Math.Min(rowsPerBlock, height - y) * lineLength);
                    int got = zlib.ReadAtLeast(lines, lines.Length, throwOnEndOfStream: false);
                    for (int start = 0; start + lineLength <= got; start += lineLength, y++)
                    {
                        var line = lines.Slice(start, lineLength);
                        consumed += lineLength;
                        var row = line[1..];
                        if (!PngFilters.TryUnfilter(line[0], row, above, header.FilterStride))
                            throw new PngFormatException(PngErrorCode.BadData, $"filter type {line[0]} does not exist (only 0..4)");
                        long firstPixel = (long)(pass.YStart + y * pass.YStep) * header.Width + pass.XStart;
                        unpacker.Unpack(row, width, pixels, firstPixel, pass.XStep);
                        row.CopyTo(above);
                    }
                    if (got < lines.Length)
                        throw new PngFormatException(PngErrorCode.BadData,
                            $"the image data inflates to {consumed + got % lineLength} bytes, IHDR implies {expected}");
                }
            }
            Span<byte> probe = stackalloc byte[1];
            if (zlib.Read(probe) > 0)
                throw new PngFormatException(PngErrorCode.TooLarge,
                    $"the image data inflates past the {expected} bytes IHDR implies");
        }
        catch (InvalidDataException e)
        {
            throw new PngFormatException(PngErrorCode.BadData, $"corrupt zlib data after {consumed} of {expected} bytes: {e.Message}", e);
        }
        finally
        {
            ImagingPools.Bytes.Return(block);
            ImagingPools.Bytes.Return(previous);
        }
    }
}
