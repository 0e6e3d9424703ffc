using System.Runtime.CompilerServices;

namespace Mnist.Core;

/// <summary>Four 32-bit random words: one Philox block.</summary>
public readonly record struct PhiloxBlock(uint X0, uint X1, uint X2, uint X3)
{
    /// <summary>Word <paramref name="lane"/> (0..3).</summary>
    public uint this[int lane] => lane switch { 0 => X0, 1 => X1, 2 => X2, _ => X3 };
}

/// <summary>
/// Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011): a counter-based generator. Number i of a stream is a pure function of (key, stream,
/// i), so any backend computes any element in any order — one thread per element on a GPU,
/// vectors on a CPU — and gets the same bits. Plain integer arithmetic only, so GPU kernels can
/// call it too. Checked against Random123's published known-answer vectors.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The 10-round block function of counter (c0..c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return new PhiloxBlock(c0, c1, c2, c3);
    }

    /// <summary>
    /// Word <paramref name="index"/> of the stream (<paramref name="key"/>, <paramref name="stream"/>):
    /// block index/4 (counter words 0-1) of the stream (counter words 2-3), lane index%4.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Word(ulong key, ulong stream, ulong index)
    {
        ulong block = index >> 2;
        return Block((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32), (uint)key, (uint)(key >> 32))[(int)(index & 3)];
    }

    /// <summary>A float uniform in [0, 1) from a word's top 24 bits (every value exact in float32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnit(uint word) => (word >> 8) * (1f / 16777216f);
}
