namespace Mnist.Core.Imaging;

/// <summary>
/// Turns a drawing into what an MNIST digit looks like (LeCun et al.): ink bright on black, the
/// ink's bounding box scaled (aspect kept, area-averaged so grey levels appear at the edges) to fit
/// a 20×20 box, then placed in a 28×28 field so its centre of mass falls on pixel (14, 14), by an
/// integer shift. MNIST's own test digits all have their centre of mass within 0.5 px of (14, 14)
/// in pixel-index coordinates, which is the convention used here.
///
/// Every input goes through the same steps, 28×28 arrays included: a browser's downsampled canvas
/// is not size-normalised, and for a real MNIST digit the steps are close to the identity (its
/// box is already 20 px long and centred). <see cref="DigitPreprocessOptions.CentreOnly"/>
/// re-centres without rescaling. Normalisation by the model's mean/std happens later
/// (<see cref="Data.Normalization"/>).
/// </summary>
public static class DigitPreprocessor
{
    /// <summary>Prepares a decoded image (any colours, transparent or not; a photo of paper too).</summary>
    public static PreparedDigit Prepare(PixelImage image, DigitPreprocessOptions? options = null) =>
        Prepare(InkMap.FromImage(image), options);

    /// <summary>
    /// Prepares decoded pixels (width × height, <paramref name="layout"/>, row-major): the same
    /// result as <c>Prepare(new PixelImage(...))</c>, but the image-sized ink buffer is rented from
    /// the array pool and returned, so a canvas upload puts nothing on the large-object heap.
    /// </summary>
    public static PreparedDigit Prepare(ReadOnlySpan<byte> pixels, int width, int height, PixelLayout layout,
        DigitPreprocessOptions? options = null)
    {
        if (width < 1 || height < 1 || pixels.Length < (long)width * height * (int)layout)
            throw new ArgumentException($"{pixels.Length} bytes is not a {width}x{height} {layout} image");
        int n = width * height;
        var rented = ImagingPools.Floats.Rent(n);
        try
        {
            var ink = rented.AsSpan(0, n);
            var (source, _) = InkMap.Fill(pixels[..(n * (int)layout)], width, height, layout, ink);
            return Prepare(ink, width, height, source, options);
        }
        finally
        {
            ImagingPools.Floats.Return(rented);
        }
    }

    /// <summary>Prepares grey levels in [0,1] of any size (784 values from a page, say); the array is not changed.</summary>
    public static PreparedDigit Prepare(ReadOnlySpan<float> grey, int width, int height,
        InkPolarity polarity = InkPolarity.Auto, DigitPreprocessOptions? options = null) =>
        Prepare(InkMap.FromGrey(grey.ToArray(), width, height, polarity), options);

    /// <summary>Prepares an image from the MNIST IDX files (bytes, 255 = ink).</summary>
    public static PreparedDigit PrepareMnist(ReadOnlySpan<byte> pixels, int width = 28, int height = 28,
        DigitPreprocessOptions? options = null)
    {
        var grey = new float[pixels.Length];
        for (int i = 0; i < grey.Length; i++) grey[i] = pixels[i] / 255f;
        return Prepare(InkMap.FromGrey(grey, width, height, InkPolarity.BrightInk), options);
    }

    /// <summary>Prepares an ink map (it is modified: contrast is stretched in place).</summary>
    public static PreparedDigit Prepare(InkMap map, DigitPreprocessOptions? options = null) =>
        Prepare(map.Ink, map.Width, map.Height, map.Source, options);

    /// <summary>Prepares width × height ink values (modified: contrast is stretched in place) that came from <paramref name="source"/>.</summary>
    private static PreparedDigit Prepare(Span<float> ink, int width, int height, InkSource source, DigitPreprocessOptions? options)
    {
        options ??= DigitPreprocessOptions.Default;
        if (options.BoxSize < 1 || options.BoxSize > options.CanvasSize)
            throw new ArgumentException($"BoxSize {options.BoxSize} must be 1..CanvasSize ({options.CanvasSize})");
        int size = options.CanvasSize;
        PreparedDigit Empty() => new() { Pixels = new float[size * size], Size = size, IsEmpty = true, InkSource = source };

        float max = 0;
        foreach (float v in ink) max = Math.Max(max, v);
        if (max <= options.InkThreshold) return Empty();
        if (options.StretchContrast && max < 1f)
            for (int i = 0; i < ink.Length; i++) ink[i] /= max;

        var box = InkBox(ink, width, height, options.InkThreshold);
        if (box.LongerSide < options.MinInkExtent * Math.Max(width, height)) return Empty();
        var sourceCentre = CentreOfMass(ink, width, box);

        float[] scaled;
        int scaledWidth, scaledHeight;
        double scale;
        PixelBox region;
        if (options.CentreOnly)
        {
            if (width != size || height != size)
                throw new ArgumentException($"CentreOnly needs a {size}x{size} input, got {width}x{height}");
            // Move only the ink box (faint pixels outside it are noise), as a scaled box would be moved.
            scaled = Crop(ink, width, box);
            (scaledWidth, scaledHeight, scale) = (box.Width, box.Height, 1.0);
        }
        else
        {
            int longer = box.LongerSide;
            scaled = AreaResampler.Resize(ink, width, box.X, box.Y, box.Width, box.Height,
                options.BoxSize, longer, out scaledWidth, out scaledHeight);
            // fully inked areas sum their shares to 1 give or take a float's last bit
            for (int i = 0; i < scaled.Length; i++) scaled[i] = Math.Min(scaled[i], 1f);
            scale = (double)options.BoxSize / longer;
        }
        var (cx, cy) = CentreOfMass(scaled, scaledWidth, new PixelBox(0, 0, scaledWidth, scaledHeight));
        int left = Place(size / 2.0 - cx, size - scaledWidth);
        int top = Place(size / 2.0 - cy, size - scaledHeight);
        region = new PixelBox(left, top, scaledWidth, scaledHeight);

        var pixels = new float[size * size];
        for (int y = 0; y < scaledHeight; y++)
            scaled.AsSpan(y * scaledWidth, scaledWidth).CopyTo(pixels.AsSpan((top + y) * size + left));
        return new PreparedDigit
        {
            Pixels = pixels,
            Size = size,
            IsEmpty = false,
            InkSource = source,
            InkBox = box,
            SourceCentreOfMass = sourceCentre,
            Scale = scale,
            PlacedBox = region,
            CentreOfMass = CentreOfMass(pixels, size, new PixelBox(0, 0, size, size)),
        };
    }

    /// <summary>The integer offset nearest to <paramref name="ideal"/>, kept within 0..<paramref name="max"/>.</summary>
    private static int Place(double ideal, int max) =>
        Math.Clamp((int)Math.Round(ideal, MidpointRounding.AwayFromZero), 0, Math.Max(0, max));

    /// <summary>The smallest box holding every pixel whose ink exceeds <paramref name="threshold"/>.</summary>
    public static PixelBox InkBox(ReadOnlySpan<float> ink, int width, int height, float threshold)
    {
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
        {
            var row = ink.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                if (row[x] <= threshold) continue;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                y1 = y;
            }
        }
        return x1 < 0 ? default : new PixelBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    }

    /// <summary>The ink-weighted mean pixel position within <paramref name="box"/> (the box's centre when it holds no ink).</summary>
    public static ImagePoint CentreOfMass(ReadOnlySpan<float> ink, int stride, PixelBox box)
    {
        double mass = 0, sx = 0, sy = 0;
        for (int y = box.Y; y < box.Y + box.Height; y++)
        {
            var row = ink.Slice(y * stride + box.X, box.Width);
            double rowMass = 0;
            for (int x = 0; x < row.Length; x++)
            {
                rowMass += row[x];
                sx += (double)row[x] * (box.X + x);
            }
            mass += rowMass;
            sy += rowMass * y;
        }
        if (mass <= 0) return new ImagePoint(box.X + (box.Width - 1) / 2.0, box.Y + (box.Height - 1) / 2.0);
        return new ImagePoint(sx / mass, sy / mass);
    }

    private static float[] Crop(ReadOnlySpan<float> ink, int stride, PixelBox box)
    {
        var result = new float[box.Width * box.Height];
        for (int y = 0; y < box.Height; y++)
            ink.Slice((box.Y + y) * stride + box.X, box.Width).CopyTo(result.AsSpan(y * box.Width));
        return result;
    }
}
