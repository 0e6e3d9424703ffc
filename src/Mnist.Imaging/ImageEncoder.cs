using Mnist.Core.Imaging;
using SkiaSharp;

namespace Mnist.Imaging;

/// <summary>The file formats <see cref="ImageEncoder"/> writes (SkiaSharp decodes GIF and BMP but does not write them).</summary>
public enum ImageFileFormat
{
    Png,
    Jpeg,
    Webp,
}

/// <summary>Image files from pixels, through SkiaSharp.</summary>
public static class ImageEncoder
{
    /// <summary>Encodes an image; <paramref name="quality"/> (0..100) matters for JPEG and WebP only.</summary>
    public static byte[] Encode(PixelImage image, ImageFileFormat format = ImageFileFormat.Png, int quality = 90)
    {
        // SkiaSharp has no 8-bit grey+alpha or packed RGB colour type: those are widened to RGBA.
        if (image.Layout is PixelLayout.Grey or PixelLayout.Rgba)
            return Encode(image.Pixels, image.Width, image.Height, image.Layout, format, quality);
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, n = image.Width * image.Height; i < n; i++)
        {
            var pixel = image.Pixels.AsSpan(i * image.Channels, image.Channels);
            (rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2], rgba[4 * i + 3]) = image.Layout == PixelLayout.GreyAlpha
                ? (pixel[0], pixel[0], pixel[0], pixel[1])
                : (pixel[0], pixel[1], pixel[2], (byte)255);
        }
        return Encode(rgba, image.Width, image.Height, PixelLayout.Rgba, format, quality);
    }

    /// <summary>Encodes grey (one byte a pixel) or RGBA (unpremultiplied) pixels.</summary>
    internal static unsafe byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, PixelLayout layout, ImageFileFormat format, int quality)
    {
        if (layout is not (PixelLayout.Grey or PixelLayout.Rgba))
            throw new ArgumentException($"only grey and RGBA pixels are encoded directly, not {layout}");
        if (width < 1 || height < 1 || pixels.Length != (long)width * height * (int)layout)
            throw new ArgumentException($"{pixels.Length} bytes is not a {width}x{height} {layout} image");
        var info = layout == PixelLayout.Grey
            ? new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque)
            : new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        fixed (byte* start = pixels)
        {
            using var pixmap = new SKPixmap(info, (IntPtr)start, width * (int)layout);
            using var file = format switch
            {
                ImageFileFormat.Png => pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 6)),
                ImageFileFormat.Jpeg => pixmap.Encode(SKEncodedImageFormat.Jpeg, quality),
                _ => pixmap.Encode(SKEncodedImageFormat.Webp, quality),
            } ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} {layout} image as {format}");
            return file.ToArray();
        }
    }
}
