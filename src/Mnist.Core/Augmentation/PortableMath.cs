namespace Mnist.Core.Augmentation;

/// <summary>
/// Sine, cosine and exponential from IEEE basic operations only (+ − × ÷), for the same reason
/// as <see cref="Rng"/>: Math.Sin and Math.Exp come from the C runtime and may differ in the last
/// bit between machines, and an augmented run should give the same numbers everywhere. Accurate
/// to 1e-15 (sine, cosine, |x| ≤ 2π) and 1e-13 relative (exponential, x ≥ −50), far below
/// float32's resolution; the tests hold them to that against the C runtime.
/// </summary>
internal static class PortableMath
{
    /// <summary>sin x and cos x for |x| ≤ 2π: Taylor series at x/8, then three angle doublings.</summary>
    public static (double Sin, double Cos) SinCos(double x)
    {
        const int doublings = 3;
        double a = x / (1 << doublings), a2 = a * a;
        // |a| ≤ π/4: the terms past a^17/17! are below 2^-60.
        double sin = 0, cos = 0;
        for (int k = 17; k >= 3; k -= 2) sin = (sin + 1) * -a2 / (k * (k - 1));
        for (int k = 18; k >= 2; k -= 2) cos = (cos + 1) * -a2 / (k * (k - 1));
        sin = a * (sin + 1);
        cos += 1;
        for (int i = 0; i < doublings; i++) (sin, cos) = (2 * sin * cos, (cos - sin) * (cos + sin));
        return (sin, cos);
    }

    /// <summary>e^x for x ≤ 0 (Gaussian weights): Taylor series at x/2^n with |x/2^n| ≤ 1/4, then n squarings.</summary>
    public static double Exp(double x)
    {
        if (x < -745) return 0; // below the smallest subnormal
        int n = 0;
        while (Math.Abs(x) > 0.25 * (1L << n)) n++;
        double a = x / (1L << n);
        double e = 0;
        for (int k = 14; k >= 1; k--) e = (e + 1) * a / k;
        e += 1;
        for (int i = 0; i < n; i++) e *= e;
        return e;
    }
}
