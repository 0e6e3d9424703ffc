namespace Mnist.Core.Augmentation;

/// <summary>
/// Test-time augmentation: a classifier's probabilities averaged over a few fixed views of each
/// image. A view is a whole-pixel shift — exact, no resampling — whose uncovered border gets
/// the background (a blank pixel, normalised). The first view is always the image itself, so
/// "none" is the plain prediction.
/// </summary>
public sealed record TestTimeAugmentation(string Name, IReadOnlyList<(int Dx, int Dy)> Shifts)
{
    /// <summary>The image alone.</summary>
    public static TestTimeAugmentation None { get; } = new("none", [(0, 0)]);

    /// <summary>The image and its four one-pixel shifts (right, left, down, up).</summary>
    public static TestTimeAugmentation Shifts5 { get; } = new("shifts", [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]);

    /// <summary>The image and its eight neighbours one pixel away, diagonals included.</summary>
    public static TestTimeAugmentation Shifts9 { get; } =
        new("shifts9", [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]);

    private static readonly TestTimeAugmentation[] All = [None, Shifts5, Shifts9];

    public static IReadOnlyList<string> Names { get; } = [.. All.Select(t => t.Name)];

    /// <summary>The named set (case-insensitive; null is "none"); <see cref="MnistException"/> for an unknown name.</summary>
    public static TestTimeAugmentation Named(string? name)
    {
        string key = (name ?? "none").Trim().ToLowerInvariant();
        return All.FirstOrDefault(t => t.Name == key)
            ?? throw new MnistException($"unknown test-time augmentation '{name}'; valid names: {string.Join(", ", Names)}");
    }

    public int Count => Shifts.Count;

    /// <summary>True for the image alone.</summary>
    public bool IsOff => Shifts.Count == 1;

    /// <summary>
    /// Writes view <paramref name="view"/> of <paramref name="count"/> images (height × width
    /// each) to <paramref name="output"/>: output(x, y) = input(x − dx, y − dy), the background
    /// where that falls outside the image.
    /// </summary>
    public void Apply(int view, ReadOnlySpan<float> images, int count, int height, int width, float background, Span<float> output)
    {
        var (dx, dy) = Shifts[view];
        int size = height * width;
        if (images.Length < count * size || output.Length < count * size) throw new ArgumentException("image buffers too small");
        for (int n = 0; n < count; n++)
        {
            var source = images.Slice(n * size, size);
            var target = output.Slice(n * size, size);
            for (int y = 0; y < height; y++)
            {
                var row = target.Slice(y * width, width);
                int from = y - dy;
                if (from < 0 || from >= height)
                {
                    row.Fill(background);
                    continue;
                }
                // columns x with 0 ≤ x − dx < width copy, the rest are background
                int first = Math.Clamp(dx, 0, width), last = Math.Clamp(width + dx, 0, width);
                row[..first].Fill(background);
                row[last..].Fill(background);
                if (last > first) source.Slice(from * width + first - dx, last - first).CopyTo(row[first..last]);
            }
        }
    }
}
