using System.Buffers.Binary;
using System.IO.Compression;

namespace Mnist.Core.Data;

/// <summary>A refused IDX file: names the file and what is wrong with it.</summary>
public sealed class IdxFormatException(string path, string problem)
    : MnistException($"{Path.GetFileName(path)}: {problem} ({path})")
{
    public string Problem { get; } = problem;
}

/// <summary>An unsigned-byte IDX array: its dimensions and its payload.</summary>
public sealed record IdxArray(int[] Dims, byte[] Data)
{
    public int Count => Dims[0];
}

/// <summary>
/// Reads and writes IDX files (the MNIST format: a 4-byte magic of two zero bytes, an element type
/// and a dimension count, then big-endian int32 dimensions and the payload), plain or gzip-compressed.
/// </summary>
public static class IdxFile
{
    private const byte UnsignedByte = 0x08;

    private static readonly Dictionary<byte, string> KnownTypes = new()
    {
        [0x08] = "unsigned byte", [0x09] = "signed byte", [0x0B] = "int16",
        [0x0C] = "int32", [0x0D] = "float32", [0x0E] = "float64",
    };

    /// <summary>The largest payload accepted: 2 GiB less a little, what one array can hold.</summary>
    public static long MaxPayload => Array.MaxLength - 64;

    /// <summary>Reads a whole IDX file, decompressing it first when it starts with the gzip magic.</summary>
    public static IdxArray Read(string path, int expectedRank)
    {
        try
        {
            using var file = File.OpenRead(path);
            return Read(file, path, expectedRank);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot read {path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads an IDX file from a seekable stream at its start (plain or gzip-compressed);
    /// <paramref name="path"/> names it in errors. A compressed file is decompressed only as far as
    /// its header promises, so a small file that inflates without end costs no more memory than
    /// the data it claims to hold.
    /// </summary>
    public static IdxArray Read(Stream stream, string path, int expectedRank)
    {
        if (!IsGzip(stream)) return Parse(path, ReadAll(stream), expectedRank);
        try
        {
            using var gzip = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
            var header = new byte[4];
            int headerRead = gzip.ReadAtLeast(header, 4, throwOnEndOfStream: false);
            if (headerRead < 4) return Parse(path, header[..headerRead], expectedRank);
            int rank = header[3];
            var dims = new byte[4 * rank];
            int dimsRead = gzip.ReadAtLeast(dims, dims.Length, throwOnEndOfStream: false);
            long payload = 1;
            for (int i = 0; i + 4 <= dimsRead; i += 4) payload *= Math.Max(1, BinaryPrimitives.ReadInt32BigEndian(dims.AsSpan(i)));
            if (payload > MaxPayload || payload < 0)
                throw new IdxFormatException(path, $"the header promises {payload} data bytes, more than {MaxPayload}");
            // header, dimensions and at most one byte more than the payload: Parse names any mismatch
            long limit = 4 + dimsRead + payload + 1;
            var bytes = new MemoryStream((int)Math.Min(limit, 64L << 20));
            bytes.Write(header);
            bytes.Write(dims, 0, dimsRead);
            var buffer = new byte[81920];
            int read;
            while (bytes.Length < limit && (read = gzip.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - bytes.Length))) > 0)
                bytes.Write(buffer, 0, read);
            bool complete = bytes.Length < limit;
            if (complete) CheckGzipTrailer(stream, bytes.Length);
            return Parse(path, bytes.ToArray(), expectedRank);
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException(path, $"corrupt gzip stream: {e.Message}");
        }
        catch (EndOfStreamException e)
        {
            throw new IdxFormatException(path, $"truncated gzip stream: {e.Message}");
        }
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>The file's bytes, gunzipped when needed.</summary>
    public static byte[] ReadBytes(string path)
    {
        using var file = File.OpenRead(path);
        if (!IsGzip(file)) return File.ReadAllBytes(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        CheckGzipTrailer(file, buffer.Length);
        return buffer.ToArray();
    }

    /// <summary>
    /// GZipStream ends quietly at a cut-off stream, so compare the trailer's length field (the last
    /// four bytes: uncompressed size mod 2^32) with what came out. Only seekable streams can be checked.
    /// </summary>
    private static void CheckGzipTrailer(Stream file, long decompressed)
    {
        if (!file.CanSeek || file.Length < 4) return;
        Span<byte> trailer = stackalloc byte[4];
        file.Position = file.Length - 4;
        file.ReadExactly(trailer);
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        if (expected != (uint)decompressed)
            throw new EndOfStreamException($"gzip trailer says {expected} bytes, the stream gave {decompressed}");
    }

    /// <summary>Whether a seekable stream starts with the gzip magic (its position is put back to 0).</summary>
    internal static bool IsGzip(Stream file)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
    }

    /// <summary>Checks the header against the payload and returns the array.</summary>
    public static IdxArray Parse(string path, byte[] bytes, int expectedRank)
    {
        if (bytes.Length < 4)
            throw new IdxFormatException(path, $"too short for an IDX header ({bytes.Length} bytes)");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new IdxFormatException(path, $"wrong magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(bytes):X8}: not an IDX file");
        byte type = bytes[2];
        if (!KnownTypes.TryGetValue(type, out var typeName))
            throw new IdxFormatException(path, $"unknown element type 0x{type:X2}");
        if (type != UnsignedByte)
            throw new IdxFormatException(path, $"element type is {typeName}; MNIST files hold unsigned bytes");
        int rank = bytes[3];
        if (rank != expectedRank)
            throw new IdxFormatException(path, $"has {rank} dimensions, expected {expectedRank}");
        int headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength)
            throw new IdxFormatException(path, $"truncated header: {bytes.Length} bytes, the header needs {headerLength}");

        var dims = new int[rank];
        long payload = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] <= 0) throw new IdxFormatException(path, $"dimension {i} is {dims[i]}");
            payload *= dims[i];
        }
        long actual = bytes.Length - headerLength;
        if (actual < payload)
            throw new IdxFormatException(path, $"truncated: the header promises {payload} data bytes, the file has {actual}");
        if (actual > payload)
            throw new IdxFormatException(path, $"{actual - payload} unexpected bytes after the {payload} the header promises");
        return new IdxArray(dims, bytes.AsSpan(headerLength).ToArray());
    }

    /// <summary>Writes an unsigned-byte IDX file, gzip-compressed when the name ends in .gz.</summary>
    public static void Write(string path, int[] dims, ReadOnlySpan<byte> data)
    {
        using var file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal)
            ? new GZipStream(file, CompressionLevel.Fastest)
            : file;
        stream.Write([0, 0, UnsignedByte, (byte)dims.Length]);
        Span<byte> dim = stackalloc byte[4];
        foreach (int d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(dim, d);
            stream.Write(dim);
        }
        stream.Write(data);
    }
}
