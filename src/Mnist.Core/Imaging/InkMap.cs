using System.Numerics;
using System.Runtime.InteropServices;

namespace Mnist.Core.Imaging;

/// <summary>Where an <see cref="InkMap"/>'s ink came from.</summary>
public enum InkSource
{
    /// <summary>The image had a transparent background: ink is the alpha channel.</summary>
    Alpha,
    /// <summary>Light ink on a dark background (MNIST's own convention).</summary>
    LightOnDark,
    /// <summary>Dark ink on a light background (pen on paper, a white canvas): inverted.</summary>
    DarkOnLight,
    /// <summary>A photo (an uneven or grainy background): lighting evened out, ink split from paper by Otsu's threshold.</summary>
    Photo,
}

/// <summary>Which way round a grey input's ink is; <see cref="Auto"/> reads it from the border.</summary>
public enum InkPolarity
{
    Auto,
    /// <summary>1 is ink, 0 is background (MNIST, model inputs).</summary>
    BrightInk,
    /// <summary>0 is ink, 1 is background.</summary>
    DarkInk,
}

/// <summary>
/// How much ink each pixel holds, in [0,1], whatever the input's colours: ink is bright, the
/// background 0, grey levels kept. The background level is the median of the border pixels
/// (a drawing rarely touches more than half its frame), so off-white paper or grey canvases
/// still give a clean 0 background. A border that is not flat (uneven lighting, paper grain: a
/// photo rather than a drawing) sends the image through <see cref="PhotoInk"/> instead.
/// </summary>
public sealed class InkMap
{
    private InkMap(int width, int height, float[] ink, InkSource source, float background)
    {
        Width = width;
        Height = height;
        Ink = ink;
        Source = source;
        Background = background;
    }

    public int Width { get; }
    public int Height { get; }
    /// <summary>Row-major ink amounts in [0,1].</summary>
    public float[] Ink { get; }
    public InkSource Source { get; }
    /// <summary>The background level found in the input (grey 0..1, or border alpha for <see cref="InkSource.Alpha"/>).</summary>
    public float Background { get; }

    /// <summary>
    /// Ink from a decoded image. With a transparent background (border mostly transparent) the ink
    /// is the alpha, whatever the strokes' colour. Otherwise the image is composited over its own
    /// border colour (so stray transparent pixels read as background), converted to luminance
    /// (Rec. 601) and its polarity detected.
    /// </summary>
    public static InkMap FromImage(PixelImage image)
    {
        int w = image.Width, h = image.Height;
        var ink = new float[w * h];
        var (source, background) = Fill(image.Pixels, w, h, image.Layout, ink);
        return new InkMap(w, h, ink, source, background);
    }

    /// <summary>
    /// <see cref="FromImage"/> on raw decoded bytes (row-major, <paramref name="layout"/>), writing
    /// the ink into <paramref name="ink"/> (width × height values): the pooled path of
    /// <see cref="DigitPreprocessor"/>. Any scratch space comes from the array pool.
    /// </summary>
    internal static (InkSource Source, float Background) Fill(ReadOnlySpan<byte> pixels, int w, int h,
        PixelLayout layout, Span<float> ink)
    {
        int n = w * h, channels = (int)layout;
        Luminance(pixels, layout, ink[..n]);
        bool hasAlpha = layout is PixelLayout.GreyAlpha or PixelLayout.Rgba;
        if (hasAlpha && HasTransparency(pixels[..(n * channels)], channels))
        {
            var rented = ImagingPools.Floats.Rent(n);
            try
            {
                var alpha = rented.AsSpan(0, n);
                for (int i = 0; i < n; i++) alpha[i] = pixels[i * channels + channels - 1] / 255f;
                float borderAlpha = Border(alpha, w, h, default).Median;
                if (borderAlpha < 0.5f)
                {
                    alpha.CopyTo(ink);
                    return (InkSource.Alpha, borderAlpha);
                }
                float backdrop = Border(ink, w, h, alpha).Median;
                for (int i = 0; i < n; i++) ink[i] = alpha[i] * ink[i] + (1 - alpha[i]) * backdrop;
            }
            finally
            {
                ImagingPools.Floats.Return(rented);
            }
        }
        var border = Border(ink[..n], w, h, default);
        if (border.High - border.Low > PhotoInk.BorderSpread)
        {
            PhotoInk.Extract(ink[..n], w, h, darkInk: border.Median > 0.5f);
            return (InkSource.Photo, border.Median);
        }
        return FromGrey(ink[..n], border.Median, InkPolarity.Auto);
    }

    /// <summary>Rec. 601 luminance in [0,1] of each pixel (grey formats: the grey level).</summary>
    private static void Luminance(ReadOnlySpan<byte> pixels, PixelLayout layout, Span<float> luminance)
    {
        int channels = (int)layout;
        if (layout is PixelLayout.Rgb or PixelLayout.Rgba)
        {
            for (int i = 0; i < luminance.Length; i++)
            {
                int o = i * channels;
                luminance[i] = (0.299f * pixels[o] + 0.587f * pixels[o + 1] + 0.114f * pixels[o + 2]) / 255f;
            }
        }
        else
        {
            var levels = UnitLevels;
            for (int i = 0; i < luminance.Length; i++) luminance[i] = levels[pixels[i * channels]];
        }
    }

    /// <summary>b / 255f for every byte b (the same float the division gives).</summary>
    private static readonly float[] UnitLevels = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

    /// <summary>
    /// Ink from grey levels in [0,1] (taken over, not copied: the caller hands the array in).
    /// <see cref="InkPolarity.Auto"/> compares the border's median with 0.5 and rescales so that
    /// level becomes 0; the explicit polarities take the values as they are (clamped).
    /// </summary>
    public static InkMap FromGrey(float[] grey, int width, int height, InkPolarity polarity)
    {
        if (width < 1 || height < 1 || grey.Length != width * height)
            throw new ArgumentException($"{grey.Length} values is not a {width}x{height} image");
        float borderMedian = polarity == InkPolarity.Auto ? Border(grey, width, height, default).Median : 0f;
        var (source, background) = FromGrey(grey.AsSpan(), borderMedian, polarity);
        return new InkMap(width, height, grey, source, background);
    }

    /// <summary>
    /// <see cref="FromGrey(float[], int, int, InkPolarity)"/> in place on a span of exactly width × height
    /// values whose border median (used by <see cref="InkPolarity.Auto"/>) is <paramref name="borderMedian"/>.
    /// </summary>
    private static (InkSource Source, float Background) FromGrey(Span<float> grey, float borderMedian, InkPolarity polarity)
    {
        switch (polarity)
        {
            case InkPolarity.BrightInk:
                for (int i = 0; i < grey.Length; i++) grey[i] = Math.Clamp(grey[i], 0f, 1f);
                return (InkSource.LightOnDark, 0f);
            case InkPolarity.DarkInk:
                for (int i = 0; i < grey.Length; i++) grey[i] = 1f - Math.Clamp(grey[i], 0f, 1f);
                return (InkSource.DarkOnLight, 1f);
        }
        float background = Math.Clamp(borderMedian, 0f, 1f);
        bool darkInk = background > 0.5f;
        // Ink = distance from the background level, as a fraction of the room on the ink's side.
        float room = darkInk ? background : 1f - background;
        float scale = room > 0 ? 1f / room : 0f;
        for (int i = 0; i < grey.Length; i++)
        {
            float distance = darkInk ? background - grey[i] : grey[i] - background;
            grey[i] = Math.Clamp(distance * scale, 0f, 1f);
        }
        return (darkInk ? InkSource.DarkOnLight : InkSource.LightOnDark, background);
    }

    private static bool HasTransparency(ReadOnlySpan<byte> pixels, int channels)
    {
        // Grey+alpha and RGBA: each pixel read as one little-endian word is opaque exactly when
        // its top byte (the alpha) is 255, i.e. when it is all ones after OR-ing in the colour bits.
        if (channels == 2 && BitConverter.IsLittleEndian)
            return !AllOnes(MemoryMarshal.Cast<byte, ushort>(pixels), (ushort)0x00FF);
        if (channels == 4 && BitConverter.IsLittleEndian)
            return !AllOnes(MemoryMarshal.Cast<byte, uint>(pixels), 0x00FFFFFFu);
        for (int o = channels - 1; o < pixels.Length; o += channels)
            if (pixels[o] != 255) return true;
        return false;
    }

    /// <summary>Whether every word OR <paramref name="colourBits"/> has all bits set.</summary>
    private static bool AllOnes<T>(ReadOnlySpan<T> words, T colourBits) where T : unmanaged, IBinaryInteger<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<T>(colourBits);
            var all = Vector<T>.AllBitsSet;
            for (; i <= words.Length - Vector<T>.Count; i += Vector<T>.Count)
                if ((new Vector<T>(words[i..]) | mask) != all) return false;
        }
        for (; i < words.Length; i++)
            if ((words[i] | colourBits) != T.AllBitsSet) return false;
        return true;
    }

    /// <summary>The 10th percentile, median and 90th percentile of a border ring.</summary>
    private readonly record struct BorderLevels(float Low, float Median, float High);

    /// <summary>
    /// Levels of the outermost ring of pixels; with weights (non-empty), only of pixels weighing at
    /// least 0.5 (none such: all 1, i.e. composite over white).
    /// </summary>
    private static BorderLevels Border(ReadOnlySpan<float> values, int w, int h, ReadOnlySpan<float> weights)
    {
        var rented = ImagingPools.Floats.Rent(2 * (w + h));
        try
        {
            var ring = rented.AsSpan();
            int count = 0;
            bool weighted = !weights.IsEmpty;
            for (int x = 0; x < w; x++)
            {
                if (!weighted || weights[x] >= 0.5f) ring[count++] = values[x];
                int i = (h - 1) * w + x;
                if (h > 1 && (!weighted || weights[i] >= 0.5f)) ring[count++] = values[i];
            }
            for (int y = 1; y < h - 1; y++)
            {
                int i = y * w;
                if (!weighted || weights[i] >= 0.5f) ring[count++] = values[i];
                i = y * w + w - 1;
                if (w > 1 && (!weighted || weights[i] >= 0.5f)) ring[count++] = values[i];
            }
            if (count == 0) return new BorderLevels(1f, 1f, 1f);
            ring = ring[..count];
            ring.Sort();
            return new BorderLevels(ring[count / 10], ring[count / 2], ring[count - 1 - count / 10]);
        }
        finally
        {
            ImagingPools.Floats.Return(rented);
        }
    }
}
