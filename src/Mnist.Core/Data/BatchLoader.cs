namespace Mnist.Core.Data;

/// <summary>
/// Turns a split into normalised float32 NCHW batches. The order of an epoch is a permutation
/// the caller supplies (seeded shuffling lives with the trainer's random stream).
/// </summary>
public sealed class BatchLoader(MnistSplit split, Normalization normalization)
{
    private readonly float[] _table = normalization.LookupTable();

    public MnistSplit Split => split;

    /// <summary>Fills images (count × 1 × H × W) and labels for the given sample indices.</summary>
    public void Fill(ReadOnlySpan<int> indices, Span<float> images, Span<int> labels)
    {
        int size = split.ImageSize;
        for (int i = 0; i < indices.Length; i++)
        {
            var source = split.Image(indices[i]);
            var target = images.Slice(i * size, size);
            for (int p = 0; p < size; p++) target[p] = _table[source[p]];
            labels[i] = split.Labels[indices[i]];
        }
    }

    /// <summary>Fills a batch of consecutive samples starting at <paramref name="start"/>.</summary>
    public void FillRange(int start, int count, Span<float> images, Span<int> labels)
    {
        int size = split.ImageSize;
        var source = split.Pixels.AsSpan(start * size, count * size);
        for (int p = 0; p < source.Length; p++) images[p] = _table[source[p]];
        for (int i = 0; i < count; i++) labels[i] = split.Labels[start + i];
    }
}
