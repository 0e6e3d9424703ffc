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
        switch (filter)
        {
            case None:
                return true;
            case Sub:
                for (int i = stride; i < n; i++) row[i] += row[i - stride];
                return true;
            case Up:
                for (int i = 0; i < n; i++) row[i] += previous[i];
                return true;
            case Average:
                for (int i = 0; i < stride && i < n; i++) row[i] += (byte)(previous[i] >> 1);
                for (int i = stride; i < n; i++) row[i] += (byte)((row[i - stride] + previous[i]) >> 1);
                return true;
            case Paeth:
                for (int i = 0; i < stride && i < n; i++) row[i] += previous[i];
                for (int i = stride; i < n; i++)
                    row[i] += PaethPredictor(row[i - stride], previous[i], previous[i - stride]);
                return true;
            default:
                return false;
        }
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
