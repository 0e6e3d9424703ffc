namespace Mnist.Core.Imaging;

/// <summary>
/// Turns unfiltered scanlines of any colour type and bit depth into 8-bit grey+alpha or RGBA
/// pixels: sub-byte samples are scaled to 0..255, 16-bit ones rounded to 8 bits, palette indices
/// looked up, and tRNS applied (a key colour for grey/RGB, per-entry alpha for palettes).
/// </summary>
internal sealed class PngPixelUnpacker
{
    private readonly PngHeader _header;
    private readonly byte[] _paletteRgba;   // 4 bytes per entry, alpha from tRNS or 255
    private readonly int _paletteCount;
    private readonly int[]? _transparentKey; // grey or R,G,B sample values at the source depth

    public PngPixelUnpacker(PngHeader header, byte[] paletteRgba, int paletteCount, int[]? transparentKey)
    {
        _header = header;
        _paletteRgba = paletteRgba;
        _paletteCount = paletteCount;
        _transparentKey = transparentKey;
    }

    /// <summary>The format the decoder returns for this header.</summary>
    public static PngPixelFormat OutputFormat(PngHeader header) =>
        header.ColorType is PngColorType.Grey or PngColorType.GreyAlpha ? PngPixelFormat.GreyAlpha : PngPixelFormat.Rgba;

    /// <summary>
    /// Writes the <paramref name="count"/> pixels of <paramref name="row"/> to <paramref name="output"/>,
    /// the i-th at pixel index <paramref name="firstPixel"/> + i × <paramref name="pixelStep"/>.
    /// </summary>
    public void Unpack(ReadOnlySpan<byte> row, int count, Span<byte> output, long firstPixel, int pixelStep)
    {
        int depth = _header.BitDepth;
        if (depth == 8 && pixelStep == 1 && UnpackWholeByteRow(row, count, output, firstPixel))
            return;
        switch (_header.ColorType)
        {
            case PngColorType.Grey:
                for (int i = 0; i < count; i++)
                {
                    int v = Sample(row, i, depth);
                    int o = checked((int)((firstPixel + (long)i * pixelStep) * 2));
                    output[o] = ToByte(v, depth);
                    output[o + 1] = _transparentKey is not null && v == _transparentKey[0] ? (byte)0 : (byte)255;
                }
                break;
            case PngColorType.GreyAlpha:
                for (int i = 0; i < count; i++)
                {
                    int o = checked((int)((firstPixel + (long)i * pixelStep) * 2));
                    output[o] = ToByte(Sample(row, 2 * i, depth), depth);
                    output[o + 1] = ToByte(Sample(row, 2 * i + 1, depth), depth);
                }
                break;
            case PngColorType.Rgb:
                for (int i = 0; i < count; i++)
                {
                    int r = Sample(row, 3 * i, depth), g = Sample(row, 3 * i + 1, depth), b = Sample(row, 3 * i + 2, depth);
                    int o = checked((int)((firstPixel + (long)i * pixelStep) * 4));
                    output[o] = ToByte(r, depth);
                    output[o + 1] = ToByte(g, depth);
                    output[o + 2] = ToByte(b, depth);
                    bool transparent = _transparentKey is not null
                        && r == _transparentKey[0] && g == _transparentKey[1] && b == _transparentKey[2];
                    output[o + 3] = transparent ? (byte)0 : (byte)255;
                }
                break;
            case PngColorType.Palette:
                for (int i = 0; i < count; i++)
                {
                    int index = Sample(row, i, depth);
                    if (index >= _paletteCount)
                        throw new PngFormatException(PngErrorCode.BadData,
                            $"palette index {index} but the palette has {_paletteCount} entries");
                    int o = checked((int)((firstPixel + (long)i * pixelStep) * 4));
                    _paletteRgba.AsSpan(index * 4, 4).CopyTo(output.Slice(o, 4));
                }
                break;
            case PngColorType.Rgba:
                for (int i = 0; i < count; i++)
                {
                    int o = checked((int)((firstPixel + (long)i * pixelStep) * 4));
                    for (int c = 0; c < 4; c++) output[o + c] = ToByte(Sample(row, 4 * i + c, depth), depth);
                }
                break;
        }
    }

    /// <summary>
    /// The common case, 8-bit samples of a non-interlaced row, without the per-sample general path
    /// (the same bytes it would write). False for palettes, which take the general path.
    /// </summary>
    private bool UnpackWholeByteRow(ReadOnlySpan<byte> row, int count, Span<byte> output, long firstPixel)
    {
        switch (_header.ColorType)
        {
            case PngColorType.Rgba: // the usual browser canvas: already the output layout
                row[..(count * 4)].CopyTo(output.Slice(checked((int)(firstPixel * 4)), count * 4));
                return true;
            case PngColorType.GreyAlpha:
                row[..(count * 2)].CopyTo(output.Slice(checked((int)(firstPixel * 2)), count * 2));
                return true;
            case PngColorType.Grey:
            {
                var source = row[..count];
                var target = output.Slice(checked((int)(firstPixel * 2)), count * 2);
                int key = _transparentKey is { } k ? k[0] : -1; // a 16-bit key above 255 matches nothing
                for (int i = 0; i < source.Length; i++)
                {
                    byte v = source[i];
                    target[2 * i] = v;
                    target[2 * i + 1] = v == key ? (byte)0 : (byte)255;
                }
                return true;
            }
            case PngColorType.Rgb:
            {
                var source = row[..(count * 3)];
                var target = output.Slice(checked((int)(firstPixel * 4)), count * 4);
                var key = _transparentKey;
                for (int i = 0; i < count; i++)
                {
                    byte r = source[3 * i], g = source[3 * i + 1], b = source[3 * i + 2];
                    target[4 * i] = r;
                    target[4 * i + 1] = g;
                    target[4 * i + 2] = b;
                    bool transparent = key is not null && r == key[0] && g == key[1] && b == key[2];
                    target[4 * i + 3] = transparent ? (byte)0 : (byte)255;
                }
                return true;
            }
            default:
                return false;
        }
    }

    /// <summary>The <paramref name="index"/>-th sample of a packed, big-endian scanline.</summary>
    private static int Sample(ReadOnlySpan<byte> row, int index, int depth)
    {
        switch (depth)
        {
            case 8: return row[index];
            case 16: return (row[2 * index] << 8) | row[2 * index + 1];
            default:
                int bit = index * depth;
                int shift = 8 - depth - (bit & 7);
                return (row[bit >> 3] >> shift) & ((1 << depth) - 1);
        }
    }

    /// <summary>A sample scaled to 0..255: 1/2/4-bit values stretched exactly, 16-bit rounded.</summary>
    private static byte ToByte(int value, int depth) => depth switch
    {
        8 => (byte)value,
        16 => (byte)((value * 255 + 32767) / 65535),
        _ => (byte)(value * 255 / ((1 << depth) - 1)),
    };
}
