using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using Mnist.Core.Tensors;

namespace Mnist.Core.IO;

/// <summary>
/// The safetensors format (huggingface/safetensors), F32 tensors only:
/// an 8-byte little-endian header length N; N bytes of UTF-8 JSON
/// <c>{"__metadata__":{k:v,...}, name:{"dtype":"F32","shape":[...],"data_offsets":[begin,end]}, ...}</c>
/// padded with spaces to a multiple of 8 (as the reference writer does); then the raw
/// little-endian data, which the tensors' offsets (relative to its start) must cover exactly,
/// without gaps or overlaps. Nothing in a file can run code; every malformed file is rejected
/// with a <see cref="MnistException"/> naming the file and the problem.
/// </summary>
public static class SafeTensors
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Headers larger than this are refused (the reference implementation's limit).</summary>
    public const int MaxHeaderLength = 100_000_000;

    // ---------------------------------------------------------------- writing

    /// <summary>
    /// Writes the tensors (in the order given, data in the same order) and metadata to
    /// <paramref name="path"/> through a temporary file in the same folder that is renamed over
    /// the target at the end, so the target is never half-written. I/O failures become
    /// <see cref="MnistException"/> naming the file.
    /// </summary>
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Value)> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] header = Header(tensors, metadata); // all argument checks happen before touching the disk
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder)) throw new MnistException($"cannot write '{path}': folder '{folder}' does not exist");
        if (Directory.Exists(full)) throw new MnistException($"cannot write '{path}': it is a folder");
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                WriteBody(stream, header, tensors);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new MnistException($"cannot write '{path}': {e.Message}", e);
            throw;
        }
    }

    /// <summary>Writes the safetensors bytes to a stream (not atomic: the caller owns the stream).</summary>
    public static void Write(Stream stream, IReadOnlyList<(string Name, Tensor Value)> tensors,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteBody(stream, Header(tensors, metadata), tensors);
    }

    /// <summary>The safetensors bytes of the tensors and metadata.</summary>
    public static byte[] Serialize(IReadOnlyList<(string Name, Tensor Value)> tensors,
                                   IReadOnlyDictionary<string, string>? metadata = null)
    {
        var stream = new MemoryStream();
        Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    /// <summary>Length prefix + padded JSON header; checks the names and metadata.</summary>
    private static byte[] Header(IReadOnlyList<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>();
        foreach (var (name, value) in tensors)
        {
            ArgumentNullException.ThrowIfNull(name, "tensor name");
            ArgumentNullException.ThrowIfNull(value, $"tensor '{name}'");
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' cannot name a tensor");
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice");
        }

        var json = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, $"metadata '{key}'");
                    w.WriteString(key, value);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, value) in tensors)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in value.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += 4L * value.Length;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int length = json.WrittenCount;
        int padded = (length + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.WrittenSpan.CopyTo(header.AsSpan(8));
        header.AsSpan(8 + length).Fill((byte)' ');
        return header;
    }

    private static void WriteBody(Stream stream, byte[] header, IReadOnlyList<(string Name, Tensor Value)> tensors)
    {
        stream.Write(header);
        byte[]? swapped = null;
        foreach (var (_, value) in tensors)
        {
            // Downloaded from the tensor's backend (a copy on the CPU too: saving is not the hot path).
            ReadOnlySpan<float> data = value.ToArray();
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(data));
                continue;
            }
            swapped ??= new byte[4096];
            for (int i = 0; i < data.Length; i += 1024)
            {
                var chunk = data.Slice(i, Math.Min(1024, data.Length - i));
                for (int j = 0; j < chunk.Length; j++)
                    BinaryPrimitives.WriteInt32LittleEndian(swapped.AsSpan(4 * j), BitConverter.SingleToInt32Bits(chunk[j]));
                stream.Write(swapped, 0, 4 * chunk.Length);
            }
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>Reads and validates a safetensors file.</summary>
    public static SafeTensorsFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > Array.MaxLength)
                throw new MnistException($"'{path}' is {stream.Length} bytes; files over {Array.MaxLength} bytes are not supported");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException) { throw new MnistException($"'{path}' does not exist"); }
        catch (DirectoryNotFoundException) { throw new MnistException($"'{path}' does not exist (its folder is missing)"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot read '{path}': {e.Message}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Reads a whole stream (e.g. an upload) and validates it; <paramref name="source"/> names it in errors.</summary>
    public static SafeTensorsFile Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Parse(copy.GetBuffer().AsSpan(0, (int)copy.Length), source);
    }

    /// <summary>Validates and decodes safetensors bytes; <paramref name="source"/> names them in errors.</summary>
    public static SafeTensorsFile Parse(byte[] bytes, string source) => Parse(bytes.AsSpan(), source);

    /// <inheritdoc cref="Parse(byte[], string)"/>
    public static SafeTensorsFile Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 8)
            throw Bad(source, $"it is {bytes.Length} bytes long, too short for the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n == 0) throw Bad(source, "the header length is 0 (an empty header)");
        if (n > MaxHeaderLength) throw Bad(source, $"the header length {n} is absurd (the limit is {MaxHeaderLength} bytes)");
        if (n > (ulong)(bytes.Length - 8))
            throw Bad(source, $"the header length {n} runs past the end of the data ({bytes.Length} bytes in all)");
        var headerBytes = bytes.Slice(8, (int)n);
        var data = bytes[(8 + (int)n)..];
        if (headerBytes[0] != (byte)'{') throw Bad(source, "the header is not a JSON object (it does not start with '{')");
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw Bad(source, "the header is not valid UTF-8");

        JsonDocument document;
        try { document = JsonDocument.Parse(headerBytes.ToArray()); }
        catch (JsonException e) { throw Bad(source, $"the header is not valid JSON: {e.Message}"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "the header is not a JSON object");
            List<Entry> entries;
            Dictionary<string, string> metadata;
            try
            {
                (entries, metadata) = ParseHeader(root, source, data.Length);
            }
            catch (InvalidOperationException e)
            {
                // a string JSON allows but .NET cannot hold, such as an escaped lone surrogate "\ud800"
                throw Bad(source, $"the header holds text that is not valid Unicode: {e.Message}");
            }
            CheckCoverage(entries, data.Length, source);

            var tensors = new OrderedDictionary<string, Tensor>(entries.Count);
            foreach (var e in entries)
            {
                var tensor = new Tensor(e.Shape);
                var bytesOf = data[(int)e.Begin..(int)e.End];
                if (BitConverter.IsLittleEndian) bytesOf.CopyTo(MemoryMarshal.AsBytes(tensor.Span));
                else
                    for (int i = 0; i < tensor.Length; i++)
                        tensor[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(bytesOf[(4 * i)..]));
                tensors.Add(e.Name, tensor);
            }
            return new SafeTensorsFile(source, tensors, metadata);
        }
    }

    private sealed record Entry(string Name, int[] Shape, ulong Begin, ulong End);

    private static (List<Entry>, Dictionary<string, string>) ParseHeader(JsonElement root, string source, int dataLength)
    {
        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>();
        var seen = new HashSet<string>();
        foreach (var property in root.EnumerateObject())
        {
            string name = property.Name;
            if (!seen.Add(name))
                throw Bad(source, name == MetadataKey ? $"{MetadataKey} appears twice" : $"tensor name '{name}' appears twice");
            if (name == MetadataKey) ParseMetadata(property.Value, metadata, source);
            else entries.Add(ParseEntry(name, property.Value, source, dataLength));
        }
        return (entries, metadata);
    }

    private static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind == JsonValueKind.Null) return; // the reference reader accepts null as "none"
        if (value.ValueKind != JsonValueKind.Object) throw Bad(source, $"{MetadataKey} is not a JSON object");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(source, $"metadata value for '{item.Name}' is not a string (it is {item.Value.GetRawText()}); safetensors metadata maps strings to strings");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Bad(source, $"metadata key '{item.Name}' appears twice");
        }
    }

    private static Entry ParseEntry(string name, JsonElement value, string source, int dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Bad(source, $"entry '{name}' is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtype)) throw Bad(source, $"tensor '{name}' has no dtype");
        if (!value.TryGetProperty("shape", out var shapeJson)) throw Bad(source, $"tensor '{name}' has no shape");
        if (!value.TryGetProperty("data_offsets", out var offsetsJson)) throw Bad(source, $"tensor '{name}' has no data_offsets");

        if (dtype.ValueKind != JsonValueKind.String) throw Bad(source, $"tensor '{name}' has dtype {dtype.GetRawText()}, which is not a string");
        if (dtype.GetString() != "F32")
            throw Bad(source, $"tensor '{name}' has dtype {dtype.GetString()}; only F32 is supported");

        int[]? shape = shapeJson.ValueKind == JsonValueKind.Array ? new int[shapeJson.GetArrayLength()] : null;
        for (int i = 0; shape is not null && i < shape.Length; i++)
            if (shapeJson[i].ValueKind != JsonValueKind.Number || !shapeJson[i].TryGetInt32(out shape[i]) || shape[i] < 0) shape = null;
        if (shape is null)
            throw Bad(source, $"tensor '{name}' has an invalid shape {shapeJson.GetRawText()} (need an array of non-negative integers)");

        bool offsetsOk = offsetsJson.ValueKind == JsonValueKind.Array && offsetsJson.GetArrayLength() == 2;
        ulong begin = 0, end = 0;
        if (offsetsOk)
            offsetsOk = offsetsJson[0].ValueKind == JsonValueKind.Number && offsetsJson[1].ValueKind == JsonValueKind.Number
                && offsetsJson[0].TryGetUInt64(out begin) && offsetsJson[1].TryGetUInt64(out end) && begin <= end;
        if (!offsetsOk)
            throw Bad(source, $"tensor '{name}' has invalid data_offsets {offsetsJson.GetRawText()} (need [begin, end] with 0 <= begin <= end)");

        long count = 1;
        foreach (int d in shape)
        {
            count *= d;
            if (count > int.MaxValue) throw Bad(source, $"tensor '{name}' has shape {Tensor.ShapeText(shape)}, too many elements");
        }
        if ((ulong)count * 4 != end - begin)
            throw Bad(source, $"tensor '{name}' has shape {Tensor.ShapeText(shape)} ({count} floats = {count * 4} bytes) " +
                              $"but its data_offsets [{begin}, {end}] span {end - begin} bytes");
        if (end > (ulong)dataLength)
            throw Bad(source, $"tensor '{name}' has data_offsets [{begin}, {end}] beyond the end of the data ({dataLength} bytes)");
        return new Entry(name, shape, begin, end);
    }

    /// <summary>The tensors must tile the data region exactly: no overlap, no gap, nothing left over.</summary>
    private static void CheckCoverage(List<Entry> entries, int dataLength, string source)
    {
        ulong covered = 0;
        Entry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < covered)
                throw Bad(source, $"tensors '{previous!.Name}' and '{e.Name}' overlap (bytes {e.Begin} to {Math.Min(covered, e.End)} of the data)");
            if (e.Begin > covered)
                throw Bad(source, $"bytes {covered} to {e.Begin} of the data belong to no tensor (a gap before '{e.Name}')");
            covered = e.End;
            previous = e;
        }
        if (covered != (ulong)dataLength)
            throw Bad(source, $"the last {(ulong)dataLength - covered} bytes of the data belong to no tensor ({dataLength} bytes, {covered} covered)");
    }

    private static MnistException Bad(string source, string problem) =>
        new($"'{source}' is not a valid safetensors file: {problem}");
}
