using System.Buffers.Binary;
using System.Text;

namespace Mnist.Core.IO.Onnx;

/// <summary>
/// The protocol-buffer wire format, written by hand: varints, fixed 32-bit floats and
/// length-delimited fields (strings, bytes, nested messages, packed numbers) — all an ONNX model
/// needs, so the engine keeps no package dependency. Fields are written in the order they are
/// given; readers accept any order.
/// </summary>
internal sealed class ProtoWriter
{
    private const int VarintType = 0, Fixed32Type = 5, LengthDelimitedType = 2;
    private readonly MemoryStream _bytes = new();

    public void Varint(int field, long value)
    {
        Tag(field, VarintType);
        RawVarint((ulong)value);
    }

    public void Float(int field, float value)
    {
        Tag(field, Fixed32Type);
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(four, value);
        _bytes.Write(four);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimitedType);
        RawVarint((ulong)value.Length);
        _bytes.Write(value);
    }

    /// <summary>A nested message: written into its own buffer, then length-prefixed here.</summary>
    public void Message(int field, Action<ProtoWriter> write)
    {
        var nested = new ProtoWriter();
        write(nested);
        Bytes(field, nested.ToArray());
    }

    /// <summary>A packed repeated int64/int32 field.</summary>
    public void PackedVarints(int field, IEnumerable<long> values)
    {
        var packed = new ProtoWriter();
        foreach (long v in values) packed.RawVarint((ulong)v);
        Bytes(field, packed.ToArray());
    }

    public byte[] ToArray() => _bytes.ToArray();

    private void Tag(int field, int wireType) => RawVarint((ulong)((field << 3) | wireType));

    private void RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.WriteByte((byte)value);
    }
}
