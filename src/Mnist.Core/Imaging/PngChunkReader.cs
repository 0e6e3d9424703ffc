using System.Buffers.Binary;

namespace Mnist.Core.Imaging;

/// <summary>One chunk of a PNG file: its four-letter type and where its data lies in the file.</summary>
internal readonly record struct PngChunk(string Type, int DataOffset, int Length)
{
    /// <summary>Critical chunks have an upper-case first letter; a decoder must understand them.</summary>
    public bool IsCritical => char.IsAsciiLetterUpper(Type[0]);
}

/// <summary>
/// Walks a PNG's chunks (length, type, data, CRC) after the signature, checking that each one fits
/// in the file, has a letters-only type and a matching CRC-32.
/// </summary>
internal ref struct PngChunkReader(ReadOnlySpan<byte> file, int start)
{
    private readonly ReadOnlySpan<byte> _file = file;
    private int _position = start;

    public readonly bool AtEnd => _position >= _file.Length;

    public PngChunk Next()
    {
        int remaining = _file.Length - _position;
        if (remaining < 12)
            throw new PngFormatException(PngErrorCode.Truncated,
                $"the file ends {remaining} bytes into a chunk header at offset {_position}");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_file[_position..]);
        var typeBytes = _file.Slice(_position + 4, 4);
        foreach (byte b in typeBytes)
            if (!char.IsAsciiLetter((char)b))
                throw new PngFormatException(PngErrorCode.BadChunk,
                    $"chunk type 0x{Convert.ToHexString(typeBytes)} at offset {_position} is not four ASCII letters");
        string type = System.Text.Encoding.ASCII.GetString(typeBytes);
        if (length > int.MaxValue)
            throw new PngFormatException(PngErrorCode.BadChunk, $"{type} chunk claims {length} bytes (PNG allows at most 2^31-1)");
        if (length > (uint)(remaining - 12))
            throw new PngFormatException(PngErrorCode.Truncated,
                $"{type} chunk at offset {_position} claims {length} bytes but the file has {remaining - 12} left");
        int dataOffset = _position + 8;
        uint stored = BinaryPrimitives.ReadUInt32BigEndian(_file[(dataOffset + (int)length)..]);
        uint actual = Crc32.Compute(_file.Slice(_position + 4, 4 + (int)length));
        if (stored != actual)
            throw new PngFormatException(PngErrorCode.BadCrc,
                $"{type} chunk at offset {_position} has CRC {stored:x8}, its contents give {actual:x8}");
        _position = dataOffset + (int)length + 4;
        return new PngChunk(type, dataOffset, (int)length);
    }
}
