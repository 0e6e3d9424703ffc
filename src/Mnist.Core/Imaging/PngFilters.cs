using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Mnist.Core.Imaging;

/// <summary>
/// The five PNG scanline filters (None, Sub, Up, Average, Paeth). Each predicts a byte from the
/// byte <c>stride</c> to its left (a), the byte above (b) and the one above-left (c); the file
/// stores the difference. The previous row of the first row (of each Adam7 pass) is all zeros.
/// </summary>
public static class PngFilters
{
    public const int None = 0, Sub = 1, Up = 2, Average = 3, Paeth = 4;

    /// <summary>Undoes <paramref name="filter"/> in place on <paramref name="row"/>.</summary>
    /// <returns>false when the filter type is not 0..4.</returns>
    public static bool TryUnfilter(int filter, Span<byte> row, ReadOnlySpan<byte> previous, int stride)
    {
        int n = row.Length;
        if (filter is < None or > Paeth) return false;
        if (filter == None || n == 0) return true;
        if (previous.Length < n) throw new ArgumentException("the previous row is shorter than the row", nameof(previous));
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "must be positive");
        // Raw references: these loops run over every byte of an image, and bounds checks (plus,
        // for stride 1, reloading the byte just stored) were most of their cost.
        ref byte x = ref MemoryMarshal.GetReference(row);
        ref byte b = ref MemoryMarshal.GetReference(previous);
        int head = Math.Min(stride, n); // the first pixel has no left neighbour (a = c = 0)
        switch (filter)
        {
            case Sub:
                if (stride == 1)
                {
                    byte left = x;
                    for (int i = 1; i < n; i++) Unsafe.Add(ref x, i) = left = (byte)(Unsafe.Add(ref x, i) + left);
                }
                else
                {
                    for (int i = stride; i < n; i++) Unsafe.Add(ref x, i) += Unsafe.Add(ref x, i - stride);
                }
                return true;
            case Up:
                AddVectors(row, previous[..n]);
                return true;
            case Average:
                for (int i = 0; i < head; i++) Unsafe.Add(ref x, i) += (byte)(Unsafe.Add(ref b, i) >> 1);
                if (stride == 1)
                {
                    byte left = x;
                    for (int i = 1; i < n; i++)
                        Unsafe.Add(ref x, i) = left = (byte)(Unsafe.Add(ref x, i) + ((left + Unsafe.Add(ref b, i)) >> 1));
                }
                else
                {
                    for (int i = stride; i < n; i++)
                        Unsafe.Add(ref x, i) += (byte)((Unsafe.Add(ref x, i - stride) + Unsafe.Add(ref b, i)) >> 1);
                }
                return true;
            default: // Paeth
                for (int i = 0; i < head; i++) Unsafe.Add(ref x, i) += Unsafe.Add(ref b, i);
                if (stride == 1)
                {
                    byte left = x, upLeft = b;
                    for (int i = 1; i < n; i++)
                    {
                        byte up = Unsafe.Add(ref b, i);
                        Unsafe.Add(ref x, i) = left = (byte)(Unsafe.Add(ref x, i) + PaethPredictor(left, up, upLeft));
                        upLeft = up;
                    }
                }
                else
                {
                    for (int i = stride; i < n; i++)
                        Unsafe.Add(ref x, i) += PaethPredictor(Unsafe.Add(ref x, i - stride), Unsafe.Add(ref b, i), Unsafe.Add(ref b, i - stride));
                }
                return true;
        }
    }

    /// <summary>row[i] += previous[i] (wrapping), a vector at a time.</summary>
    private static void AddVectors(Span<byte> row, ReadOnlySpan<byte> previous)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= row.Length - Vector<byte>.Count; i += Vector<byte>.Count)
                (new Vector<byte>(row[i..]) + new Vector<byte>(previous[i..])).CopyTo(row[i..]);
        for (; i < row.Length; i++) row[i] += previous[i];
    }

    /// <summary>Writes the filtered form of <paramref name="row"/> into <paramref name="output"/>.</summary>
    public static void Filter(int filter, ReadOnlySpan<byte> row, ReadOnlySpan<byte> previous, int stride, Span<byte> output)
    {
        int n = row.Length;
        for (int i = 0; i < n; i++)
        {
            byte a = i >= stride ? row[i - stride] : (byte)0;
            byte b = previous[i];
            byte c = i >= stride ? previous[i - stride] : (byte)0;
            byte prediction = filter switch
            {
                None => 0,
                Sub => a,
                Up => b,
                Average => (byte)((a + b) >> 1),
                Paeth => PaethPredictor(a, b, c),
                _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "filter types are 0..4"),
            };
            output[i] = (byte)(row[i] - prediction);
        }
    }

    /// <summary>Whichever of a, b, c is closest to a + b - c (ties: a, then b).</summary>
    public static byte PaethPredictor(byte a, byte b, byte c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }
}
