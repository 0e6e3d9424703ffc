namespace Mnist.Core.Layers;

/// <summary>
/// A layer whose output is piecewise smooth in its input: ReLU's sign pattern, max pooling's
/// winners. The gradient checker compares these patterns before and after a perturbation, since
/// a finite difference across a kink measures neither side's slope.
/// </summary>
internal interface IPiecewise
{
    /// <summary>Folds the pieces the last forward pass selected into <paramref name="hash"/>.</summary>
    ulong HashPieces(ulong hash);
}

/// <summary>Hashing helpers for <see cref="IPiecewise"/> patterns.</summary>
internal static class Pieces
{
    public static ulong Mix(ulong hash, ulong word)
    {
        ulong z = (hash ^ word) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Hashes which elements are positive, 64 to a word.</summary>
    public static ulong Signs(ulong hash, ReadOnlySpan<float> x)
    {
        ulong word = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] > 0f) word |= 1UL << (i & 63);
            if ((i & 63) == 63 || i == x.Length - 1)
            {
                hash = Mix(hash, word);
                word = 0;
            }
        }
        return Mix(hash, (ulong)x.Length);
    }

    public static ulong Indices(ulong hash, ReadOnlySpan<int> indices)
    {
        foreach (int i in indices) hash = Mix(hash, (ulong)i);
        return hash;
    }
}
