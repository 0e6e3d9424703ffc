using System.Buffers;

namespace Mnist.Core.Imaging;

/// <summary>
/// Resizes by area averaging (a box filter): each output pixel is the mean of the input over the
/// area it covers, fractional overlaps included. Overlaps are computed in integer units (1/scale
/// numerator) so they are exact; the filter is separable, so rows are resized first, then columns.
/// </summary>
public static class AreaResampler
{
    /// <summary>
    /// Scales a <paramref name="width"/> × <paramref name="height"/> region of <paramref name="source"/>
    /// (starting at <paramref name="x0"/>, <paramref name="y0"/>, rows <paramref name="sourceStride"/> apart)
    /// by <paramref name="numerator"/> / <paramref name="denominator"/> on both axes. The output is
    /// ceil(size × scale) on each axis; a last column or row that the region only partly covers
    /// receives the covered share (the rest counts as background 0).
    /// </summary>
    public static float[] Resize(ReadOnlySpan<float> source, int sourceStride, int x0, int y0, int width, int height,
        int numerator, int denominator, out int outWidth, out int outHeight)
    {
        if (numerator < 1 || denominator < 1) throw new ArgumentOutOfRangeException(nameof(numerator), "the scale must be positive");
        outWidth = (int)(((long)width * numerator + denominator - 1) / denominator);
        outHeight = (int)(((long)height * numerator + denominator - 1) / denominator);
        var columns = Weights(width, outWidth, numerator, denominator);
        var rows = Weights(height, outHeight, numerator, denominator);

        // the rows-resized intermediate is pooled: a tall region scaled little is a large object
        var rented = ImagingPools.Floats.Rent(height * outWidth);
        try
        {
            var narrowed = rented.AsSpan(0, height * outWidth);
            for (int y = 0; y < height; y++)
            {
                var line = source.Slice((y0 + y) * sourceStride + x0, width);
                var target = narrowed.Slice(y * outWidth, outWidth);
                for (int t = 0; t < outWidth; t++) target[t] = columns[t].Apply(line, 1);
            }
            var result = new float[outHeight * outWidth];
            for (int t = 0; t < outHeight; t++)
                for (int x = 0; x < outWidth; x++)
                    result[t * outWidth + x] = rows[t].Apply(narrowed[x..], outWidth);
            return result;
        }
        finally
        {
            ImagingPools.Floats.Return(rented);
        }
    }

    /// <summary>The input pixels an output pixel averages, with their shares of its area.</summary>
    private readonly record struct Taps(int First, float[] Shares)
    {
        public float Apply(ReadOnlySpan<float> values, int step)
        {
            float sum = 0;
            for (int k = 0; k < Shares.Length; k++) sum += Shares[k] * values[(First + k) * step];
            return sum;
        }
    }

    /// <summary>
    /// In units where an input pixel is <paramref name="numerator"/> long, output pixel t spans
    /// [t·den, (t+1)·den) and input pixel s spans [s·num, (s+1)·num); their overlap over den is s's share.
    /// </summary>
    private static Taps[] Weights(int inLength, int outLength, int numerator, int denominator)
    {
        var taps = new Taps[outLength];
        for (int t = 0; t < outLength; t++)
        {
            long start = (long)t * denominator, end = start + denominator;
            int first = (int)(start / numerator);
            int last = (int)Math.Min(inLength - 1, (end - 1) / numerator);
            var shares = new float[Math.Max(0, last - first + 1)];
            for (int s = first; s <= last; s++)
            {
                long overlap = Math.Min(end, (long)(s + 1) * numerator) - Math.Max(start, (long)s * numerator);
                shares[s - first] = (float)((double)overlap / denominator);
            }
            taps[t] = new Taps(first, shares);
        }
        return taps;
    }
}
