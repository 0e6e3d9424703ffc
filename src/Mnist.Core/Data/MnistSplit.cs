namespace Mnist.Core.Data;

/// <summary>
/// Images and labels of one split, kept as the original bytes (a quarter the memory of floats);
/// batches are converted to normalised float32 as they are drawn.
/// </summary>
public sealed class MnistSplit
{
    public MnistSplit(byte[] pixels, byte[] labels, int height, int width)
    {
        if (pixels.Length != labels.Length * height * width)
            throw new ArgumentException("pixel count does not match labels × height × width");
        Pixels = pixels;
        Labels = labels;
        Height = height;
        Width = width;
    }

    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Count => Labels.Length;
    public int ImageSize => Height * Width;

    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);

    /// <summary>How many samples carry each label 0..9.</summary>
    public int[] LabelCounts()
    {
        var counts = new int[10];
        foreach (byte label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>The samples at the given indices, in that order, as a new split.</summary>
    public MnistSplit Select(ReadOnlySpan<int> indices)
    {
        var pixels = new byte[indices.Length * ImageSize];
        var labels = new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageSize));
            labels[i] = Labels[indices[i]];
        }
        return new MnistSplit(pixels, labels, Height, Width);
    }

    /// <summary>The first <paramref name="count"/> samples (or all when there are fewer).</summary>
    public MnistSplit Take(int count)
    {
        if (count >= Count) return this;
        return new MnistSplit(Pixels[..(count * ImageSize)], Labels[..count], Height, Width);
    }
}
