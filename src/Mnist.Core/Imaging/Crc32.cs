namespace Mnist.Core.Imaging;

/// <summary>
/// CRC-32 as PNG (and zlib's crc32, gzip, Ethernet) define it: reflected polynomial 0xEDB88320,
/// initial value and final XOR 0xFFFFFFFF. Table-driven, one byte at a time.
/// </summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>The CRC of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Start, data));

    /// <summary>The running value to start from; feed data with <see cref="Append"/>, end with <see cref="Finish"/>.</summary>
    public const uint Start = 0xFFFFFFFFu;

    public static uint Append(uint running, ReadOnlySpan<byte> data)
    {
        uint c = running;
        foreach (byte b in data) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c;
    }

    public static uint Finish(uint running) => running ^ 0xFFFFFFFFu;
}
