namespace Mnist.Core;

/// <summary>The complete state of an <see cref="Rng"/>, so a stream can be saved and resumed.</summary>
public readonly record struct RngState(ulong S0, ulong S1, ulong S2, ulong S3, float SpareGaussian, bool HasSpare);

/// <summary>
/// A small seedable generator (xoshiro256** seeded through SplitMix64). It uses only integer
/// arithmetic and IEEE basic operations (+ − × ÷ √), never the platform's log/sin/cos, so the same
/// seed gives the same stream on every machine and .NET version. Not thread-safe: give each
/// consumer its own instance (see <see cref="Split"/>).
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private float _spare;
    private bool _hasSpare;

    public Rng(ulong seed) => Reseed(seed);

    public Rng(RngState state) => State = state;

    /// <summary>Restarts the stream exactly as <c>new Rng(seed)</c> would, without allocating.</summary>
    public void Reseed(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
        (_spare, _hasSpare) = (0f, false);
    }

    public RngState State
    {
        get => new(_s0, _s1, _s2, _s3, _spare, _hasSpare);
        set
        {
            if ((value.S0 | value.S1 | value.S2 | value.S3) == 0)
                throw new ArgumentException("an all-zero xoshiro state never leaves zero");
            (_s0, _s1, _s2, _s3, _spare, _hasSpare) = (value.S0, value.S1, value.S2, value.S3, value.SpareGaussian, value.HasSpare);
        }
    }

    /// <summary>A new generator seeded from this one's stream (for a layer or data loader of its own).</summary>
    public Rng Split() => new(NextULong());

    public ulong NextULong()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), on the 2^-24 grid every float in that range can hold.</summary>
    public float NextFloat() => (NextULong() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1), on the 2^-53 grid.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n), without modulo bias (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), "n must be positive");
        ulong bound = (ulong)n;
        ulong high = Math.BigMul(NextULong(), bound, out ulong low);
        if (low < bound)
        {
            ulong threshold = (0UL - bound) % bound;
            while (low < threshold) high = Math.BigMul(NextULong(), bound, out low);
        }
        return (int)high;
    }

    /// <summary>Standard normal (mean 0, deviation 1), by Marsaglia's polar method.</summary>
    public float NextGaussian()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }
        double u, v, s;
        do
        {
            u = 2.0 * NextDouble() - 1.0;
            v = 2.0 * NextDouble() - 1.0;
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        double factor = Math.Sqrt(-2.0 * PortableLog(s) / s);
        _spare = (float)(v * factor);
        _hasSpare = true;
        return (float)(u * factor);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix64(ref ulong x) => Mix(x += 0x9E3779B97F4A7C15UL);

    /// <summary>
    /// SplitMix64's finaliser: a bijective scramble of 64 bits in which every input bit affects
    /// every output bit, for deriving independent seeds from counters (counter-based streams).
    /// </summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>
    /// Natural log of a positive normal double from basic operations only (Math.Log may differ in
    /// the last bit between C runtimes): s = m·2^e with m in [√½, √2), ln m = 2·atanh((m−1)/(m+1)).
    /// </summary>
    internal static double PortableLog(double s)
    {
        long bits = BitConverter.DoubleToInt64Bits(s);
        int e = (int)((bits >> 52) & 0x7FF) - 1023;
        double m = BitConverter.Int64BitsToDouble((bits & 0x000F_FFFF_FFFF_FFFFL) | 0x3FF0_0000_0000_0000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e++;
        }
        double t = (m - 1.0) / (m + 1.0), t2 = t * t;
        // |t| <= 0.172, so t^2 <= 0.0295 and 12 odd terms reach double precision.
        double sum = 0.0;
        for (int k = 23; k >= 1; k -= 2) sum = sum * t2 + 1.0 / k;
        return 2.0 * t * sum + e * 0.69314718055994530942;
    }
}
