namespace Mnist.Core.Augmentation;

/// <summary>
/// Simard et al. (2003)'s elastic distortion, the parts shared by the fast path and the
/// reference: a random displacement per pixel, uniform in [−1, 1), for x and for y, later smoothed
/// by a Gaussian of standard deviation σ (zero outside the image, truncated at 3σ, weights summing
/// to 1, as scipy's gaussian_filter with mode="constant") and multiplied by α.
/// </summary>
public static class ElasticField
{
    /// <summary>Fills both raw fields, pixel by pixel, from one 64-bit draw per pixel (two 24-bit halves).</summary>
    public static void Draw(Rng rng, Span<float> x, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException("the two fields differ in size");
        const float step = 1f / (1 << 23);
        for (int i = 0; i < x.Length; i++)
        {
            ulong bits = rng.NextULong();
            x[i] = (int)(bits >> 40) * step - 1;
            y[i] = (int)((bits >> 16) & 0xFF_FFFF) * step - 1;
        }
    }

    /// <summary>Taps each side of the centre: ⌈3σ⌉.</summary>
    public static int Radius(float sigma) => (int)Math.Ceiling(3.0 * sigma);

    /// <summary>The 2·<see cref="Radius"/>+1 normalised weights, computed portably (see <see cref="PortableMath"/>).</summary>
    public static float[] Kernel(float sigma)
    {
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "must be positive");
        int radius = Radius(sigma);
        var weights = new double[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) sum += weights[k + radius] = PortableMath.Exp(-(double)k * k / (2.0 * sigma * sigma));
        return Array.ConvertAll(weights, w => (float)(w / sum));
    }
}
