namespace Mnist.Core.Imaging;

/// <summary>
/// Ink from a photo of a digit on paper: dark ink on light paper (or chalk on a board) under
/// uneven light, with paper grain and camera noise, where a drawing has a flat background.
/// <list type="number">
/// <item>Flat-field: the paper's brightness is estimated per block (the block's brightest level,
/// spread over the neighbouring blocks so a thick stroke never hides all its paper, smoothed,
/// interpolated between block centres) and every pixel divided by it, which evens out shadows
/// and gradients.</item>
/// <item>Otsu's threshold (the split of the histogram with the largest between-class variance)
/// separates ink from paper; too little contrast means no ink at all.</item>
/// <item>Specks far smaller than the largest stroke are dropped (8-connected components), so dust
/// does not stretch the ink box.</item>
/// <item>Thin pen lines are thickened to about a tenth of the digit's size, as MNIST's strokes are,
/// so they survive the scaling to 20 pixels.</item>
/// </list>
/// The result is 0 or 1 per pixel; the area filter that scales it to 20 pixels makes the grey edges.
/// </summary>
internal static class PhotoInk
{
    /// <summary>Spread between the border's 10th and 90th percentile levels above which the image is treated as a photo.</summary>
    public const float BorderSpread = 0.05f;

    /// <summary>Blocks per longer side of the image for the paper-brightness estimate.</summary>
    private const int Blocks = 32;

    /// <summary>Below this ink level Otsu's split is noise, not ink.</summary>
    private const float MinThreshold = 0.12f;

    /// <summary>The two classes' mean ink levels must differ by this much for there to be ink.</summary>
    private const float MinContrast = 0.2f;

    /// <summary>A component smaller than this share of the largest one is a speck.</summary>
    private const float SpeckShare = 0.05f;

    /// <summary>The stroke width aimed at, as a share of the ink box's longer side (MNIST: 2–3 px of 20).</summary>
    private const float StrokeShare = 0.1f;

    /// <summary>Turns luminance (0..1, row-major) into ink 0 or 1 in place.</summary>
    public static void Extract(Span<float> pixels, int w, int h, bool darkInk)
    {
        if (!darkInk)
            for (int i = 0; i < pixels.Length; i++) pixels[i] = 1f - pixels[i];
        FlattenLighting(pixels, w, h);
        if (!Threshold(pixels)) return;
        var labels = ImagingPools.Ints.Rent(pixels.Length);
        try
        {
            DropSpecks(pixels, w, h, labels.AsSpan(0, pixels.Length));
            Thicken(pixels, w, h);
        }
        finally
        {
            ImagingPools.Ints.Return(labels);
        }
    }

    /// <summary>Replaces the luminance of paper-with-dark-ink by ink = 1 − luminance / paper brightness, in [0,1].</summary>
    private static void FlattenLighting(Span<float> pixels, int w, int h)
    {
        int block = Math.Max(2, (Math.Max(w, h) + Blocks - 1) / Blocks);
        int gw = (w + block - 1) / block, gh = (h + block - 1) / block;
        var brightest = new float[gw * gh];
        for (int y = 0; y < h; y++)
        {
            var row = pixels.Slice(y * w, w);
            int gy = y / block;
            for (int x = 0; x < w; x++)
            {
                ref float cell = ref brightest[gy * gw + x / block];
                if (row[x] > cell) cell = row[x];
            }
        }
        var paper = Smooth(Spread(brightest, gw, gh, 2), gw, gh);
        for (int y = 0; y < h; y++)
        {
            // block centres sit at (g + 0.5) · block; interpolate between the two around each pixel
            float fy = Math.Clamp((y + 0.5f) / block - 0.5f, 0, gh - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, gh - 1);
            float ty = fy - y0;
            var row = pixels.Slice(y * w, w);
            for (int x = 0; x < w; x++)
            {
                float fx = Math.Clamp((x + 0.5f) / block - 0.5f, 0, gw - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, gw - 1);
                float tx = fx - x0;
                float level = (1 - ty) * ((1 - tx) * paper[y0 * gw + x0] + tx * paper[y0 * gw + x1])
                            + ty * ((1 - tx) * paper[y1 * gw + x0] + tx * paper[y1 * gw + x1]);
                row[x] = level > 1e-3f ? Math.Clamp(1f - row[x] / level, 0f, 1f) : 0f;
            }
        }
    }

    /// <summary>Each cell becomes the maximum of the cells within <paramref name="radius"/> of it.</summary>
    private static float[] Spread(float[] grid, int gw, int gh, int radius)
    {
        var result = new float[grid.Length];
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++)
            {
                float max = 0;
                for (int dy = Math.Max(0, y - radius); dy <= Math.Min(gh - 1, y + radius); dy++)
                    for (int dx = Math.Max(0, x - radius); dx <= Math.Min(gw - 1, x + radius); dx++)
                        max = Math.Max(max, grid[dy * gw + dx]);
                result[y * gw + x] = max;
            }
        return result;
    }

    /// <summary>The mean of each cell's 3×3 neighbourhood (cut at the edges).</summary>
    private static float[] Smooth(float[] grid, int gw, int gh)
    {
        var result = new float[grid.Length];
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++)
            {
                float sum = 0;
                int count = 0;
                for (int dy = Math.Max(0, y - 1); dy <= Math.Min(gh - 1, y + 1); dy++)
                    for (int dx = Math.Max(0, x - 1); dx <= Math.Min(gw - 1, x + 1); dx++)
                    {
                        sum += grid[dy * gw + dx];
                        count++;
                    }
                result[y * gw + x] = sum / count;
            }
        return result;
    }

    /// <summary>Otsu's threshold over 256 levels; sets ink to 1 above it and 0 elsewhere. False (all 0) when there is no ink.</summary>
    private static bool Threshold(Span<float> ink)
    {
        Span<int> histogram = stackalloc int[256];
        foreach (float v in ink) histogram[(int)(v * 255f + 0.5f)]++;
        long total = ink.Length;
        double sum = 0;
        for (int level = 0; level < 256; level++) sum += (double)level * histogram[level];
        double bestVariance = -1, sumBelow = 0, bestMeanBelow = 0, bestMeanAbove = 0;
        long below = 0;
        int best = 0;
        for (int level = 0; level < 255; level++)
        {
            below += histogram[level];
            sumBelow += (double)level * histogram[level];
            long above = total - below;
            if (below == 0 || above == 0) continue;
            double meanBelow = sumBelow / below, meanAbove = (sum - sumBelow) / above;
            double variance = (double)below * above * (meanBelow - meanAbove) * (meanBelow - meanAbove);
            if (variance > bestVariance)
            {
                (bestVariance, best, bestMeanBelow, bestMeanAbove) = (variance, level, meanBelow, meanAbove);
            }
        }
        float threshold = Math.Max((best + 0.5f) / 255f, MinThreshold);
        bool inked = bestVariance > 0 && (bestMeanAbove - bestMeanBelow) / 255.0 >= MinContrast;
        for (int i = 0; i < ink.Length; i++) ink[i] = inked && ink[i] > threshold ? 1f : 0f;
        return inked;
    }

    /// <summary>Clears the 8-connected ink components smaller than <see cref="SpeckShare"/> of the largest.</summary>
    private static void DropSpecks(Span<float> ink, int w, int h, Span<int> labels)
    {
        labels.Clear();
        var sizes = new List<int> { 0 };
        var stack = new Stack<int>();
        for (int start = 0; start < ink.Length; start++)
        {
            if (ink[start] == 0 || labels[start] != 0) continue;
            int label = sizes.Count, size = 0;
            labels[start] = label;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                size++;
                int x = i % w, y = i / w;
                for (int ny = Math.Max(0, y - 1); ny <= Math.Min(h - 1, y + 1); ny++)
                    for (int nx = Math.Max(0, x - 1); nx <= Math.Min(w - 1, x + 1); nx++)
                    {
                        int j = ny * w + nx;
                        if (ink[j] == 0 || labels[j] != 0) continue;
                        labels[j] = label;
                        stack.Push(j);
                    }
            }
            sizes.Add(size);
        }
        int largest = sizes.Max();
        for (int i = 0; i < ink.Length; i++)
            if (labels[i] != 0 && sizes[labels[i]] < SpeckShare * largest) ink[i] = 0;
    }

    /// <summary>
    /// Thickens strokes thinner than <see cref="StrokeShare"/> of the ink box: the mean stroke width
    /// is about twice the ink's area over its boundary length, and a square dilation adds to it.
    /// </summary>
    private static void Thicken(Span<float> ink, int w, int h)
    {
        long area = 0, boundary = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (ink[y * w + x] == 0) continue;
                area++;
                bool edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                    || ink[y * w + x - 1] == 0 || ink[y * w + x + 1] == 0 || ink[(y - 1) * w + x] == 0 || ink[(y + 1) * w + x] == 0;
                if (edge) boundary++;
            }
        if (area == 0) return;
        var box = DigitPreprocessor.InkBox(ink, w, h, 0.5f);
        double width = 2.0 * area / Math.Max(1, boundary);
        int radius = (int)Math.Round((StrokeShare * box.LongerSide - width) / 2);
        if (radius < 1) return;
        Dilate(ink, w, h, radius);
    }

    /// <summary>Maximum over a (2r+1)² square, as two separable passes.</summary>
    private static void Dilate(Span<float> ink, int w, int h, int radius)
    {
        var rented = ImagingPools.Floats.Rent(ink.Length);
        try
        {
            var pass = rented.AsSpan(0, ink.Length);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float max = 0;
                    for (int k = Math.Max(0, x - radius); k <= Math.Min(w - 1, x + radius) && max == 0; k++) max = ink[y * w + k];
                    pass[y * w + x] = max;
                }
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float max = 0;
                    for (int k = Math.Max(0, y - radius); k <= Math.Min(h - 1, y + radius) && max == 0; k++) max = pass[k * w + x];
                    ink[y * w + x] = max;
                }
        }
        finally
        {
            ImagingPools.Floats.Return(rented);
        }
    }
}
