using Mnist.Core;
using Mnist.Core.Imaging;
using SkiaSharp;

namespace Mnist.Imaging;

/// <summary>What to do with decoded pixels (row-major, <paramref name="layout"/>, width × height of them).</summary>
public delegate T PixelsReader<T>(ReadOnlySpan<byte> pixels, int width, int height, PixelLayout layout);

/// <summary>
/// Decodes PNG, JPEG, WebP, GIF (its first frame) and BMP files with SkiaSharp into 8-bit grey or
/// RGBA pixels for the engine. The size the header declares is checked against
/// <see cref="ImageLimits"/> before any pixel is decoded. Large images are brought down to at most
/// <see cref="WorkingPixels"/> (JPEG and WebP by decoding at a smaller scale, the others by
/// averaging blocks of pixels): a digit ends up 20 pixels tall, and a bounded size bounds the
/// memory and time every later step takes. The EXIF orientation is applied, so a phone photo is
/// the right way up. Every refusal is an <see cref="ImageFormatException"/> with a code.
/// </summary>
public static class ImageDecoder
{
    /// <summary>The most pixels handed on: 1 MP (a photo's digit is then still hundreds of pixels tall).</summary>
    public const long WorkingPixels = 1L << 20;

    /// <summary>Decodes needing more than this many bytes of pixels run one at a time, so concurrent uploads cannot add up.</summary>
    private const long LargeDecodeBytes = 16L << 20;

    private static readonly SemaphoreSlim LargeDecodes = new(1, 1);

    private static readonly Dictionary<SKEncodedImageFormat, string> Formats = new()
    {
        [SKEncodedImageFormat.Png] = "PNG",
        [SKEncodedImageFormat.Jpeg] = "JPEG",
        [SKEncodedImageFormat.Webp] = "WebP",
        [SKEncodedImageFormat.Gif] = "GIF",
        [SKEncodedImageFormat.Bmp] = "BMP",
    };

    /// <summary>The formats this decoder reads, for messages.</summary>
    public const string FormatList = "PNG, JPEG, WebP, GIF or BMP";

    /// <summary>The image as a new <see cref="PixelImage"/>.</summary>
    public static PixelImage Decode(ReadOnlySpan<byte> file, ImageLimits? limits = null) =>
        Read(file, limits, static (pixels, w, h, layout) => new PixelImage(w, h, layout, pixels.ToArray()));

    /// <summary>Reads and decodes a file; a missing or unreadable file is a <see cref="MnistException"/>, a bad one names the file.</summary>
    public static T ReadFile<T>(string path, ImageLimits? limits, PixelsReader<T> read)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot read {path}: {e.Message}", e);
        }
        try
        {
            return Read(bytes, limits, read);
        }
        catch (ImageFormatException e)
        {
            throw new ImageFormatException(e.Code, $"{Path.GetFileName(path)}: {e.Problem}", e);
        }
    }

    /// <summary>Decodes the image and the digit in it, prepared like MNIST's (image buffers pooled).</summary>
    public static PreparedDigit PrepareDigit(ReadOnlySpan<byte> file, ImageLimits? limits = null, DigitPreprocessOptions? options = null) =>
        Read(file, limits, (pixels, w, h, layout) => DigitPreprocessor.Prepare(pixels, w, h, layout, options));

    /// <summary><see cref="PrepareDigit"/> of a file, which errors name.</summary>
    public static PreparedDigit PrepareDigitFile(string path, ImageLimits? limits = null, DigitPreprocessOptions? options = null) =>
        ReadFile(path, limits, (pixels, w, h, layout) => DigitPreprocessor.Prepare(pixels, w, h, layout, options));

    /// <summary>Decodes the image into pooled buffers and hands its pixels to <paramref name="read"/>.</summary>
    public static unsafe T Read<T>(ReadOnlySpan<byte> file, ImageLimits? limits, PixelsReader<T> read)
    {
        limits ??= ImageLimits.Default;
        if (file.IsEmpty) throw NotDecodable(file);
        fixed (byte* start = file)
        {
            // The SKData refers to the pinned bytes, no copy; it and the codec die before the pin does.
            using var data = SKData.Create((IntPtr)start, file.Length);
            using var codec = data is null ? null : SKCodec.Create(data);
            if (codec is null) throw NotDecodable(file);
            if (!Formats.TryGetValue(codec.EncodedFormat, out var format))
                throw new ImageFormatException(ImageErrorCode.Unsupported, $"{codec.EncodedFormat} images are not supported; send a {FormatList} file");
            limits.Check(codec.Info.Width, codec.Info.Height, format);

            var size = DecodeSize(codec);
            bool grey = codec.Info.ColorType == SKColorType.Gray8;
            var layout = grey ? PixelLayout.Grey : PixelLayout.Rgba;
            var info = new SKImageInfo(size.Width, size.Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888,
                grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
            long bytes = (long)size.Width * size.Height * (int)layout;
            bool gated = bytes > LargeDecodeBytes;
            if (gated) LargeDecodes.Wait();
            var image = new Pixels(ImagingPools.Bytes.Rent((int)bytes), size.Width, size.Height, layout);
            try
            {
                fixed (byte* target = image.Buffer)
                {
                    var result = codec.GetPixels(info, (IntPtr)target);
                    if (result != SKCodecResult.Success) throw Failed(result, format);
                }
                image = image.ReplacedBy(Shrink(image));
                if (gated) LargeDecodes.Release();
                gated = false;
                image = image.ReplacedBy(Orientation.Apply(image, codec.EncodedOrigin));
                return read(image.Span, image.Width, image.Height, layout);
            }
            finally
            {
                if (gated) LargeDecodes.Release();
                ImagingPools.Bytes.Return(image.Buffer);
            }
        }
    }

    /// <summary>The size to decode at: JPEG and WebP scale while decoding (JPEG in eighths), the others decode whole.</summary>
    private static SKSizeI DecodeSize(SKCodec codec)
    {
        var full = codec.Info.Size;
        long pixels = (long)full.Width * full.Height;
        if (pixels <= WorkingPixels) return full;
        var scaled = codec.GetScaledDimensions((float)Math.Sqrt((double)WorkingPixels / pixels));
        // a scale the codec cannot do gives the full size back; never accept a bigger one
        return scaled.Width >= 1 && scaled.Height >= 1 && (long)scaled.Width * scaled.Height <= pixels ? scaled : full;
    }

    /// <summary>Averages k × k blocks so the image holds at most <see cref="WorkingPixels"/> (the last row and column of blocks may be partial).</summary>
    private static Pixels Shrink(Pixels image)
    {
        long pixels = (long)image.Width * image.Height;
        if (pixels <= WorkingPixels) return image;
        int k = (int)Math.Ceiling(Math.Sqrt((double)pixels / WorkingPixels));
        int w = (image.Width + k - 1) / k, h = (image.Height + k - 1) / k, channels = (int)image.Layout;
        var result = ImagingPools.Bytes.Rent(w * h * channels);
        var sums = new int[w * channels];
        var counts = new int[w];
        var source = image.Span;
        for (int by = 0; by < h; by++)
        {
            Array.Clear(sums);
            Array.Clear(counts);
            for (int y = by * k; y < Math.Min(image.Height, (by + 1) * k); y++)
            {
                var row = source.Slice(y * image.Width * channels, image.Width * channels);
                for (int x = 0; x < image.Width; x++)
                {
                    int bx = x / k;
                    counts[bx]++;
                    for (int c = 0; c < channels; c++) sums[bx * channels + c] += row[x * channels + c];
                }
            }
            for (int bx = 0; bx < w; bx++)
                for (int c = 0; c < channels; c++)
                    result[(by * w + bx) * channels + c] = (byte)((sums[bx * channels + c] + counts[bx] / 2) / counts[bx]);
        }
        return new Pixels(result, w, h, image.Layout);
    }

    /// <summary>Why SkiaSharp found no codec: a known format's signature means a broken file, anything else is not an image.</summary>
    private static ImageFormatException NotDecodable(ReadOnlySpan<byte> file)
    {
        string? format = Signature(file);
        if (format is null)
            return new ImageFormatException(ImageErrorCode.NotImage,
                file.IsEmpty ? $"the file is empty; send a {FormatList} image" : $"the file is not a {FormatList} image");
        return new ImageFormatException(ImageErrorCode.Truncated, $"the {format} file ends before its header does, or its header is malformed");
    }

    private static string? Signature(ReadOnlySpan<byte> file) => file switch
    {
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "PNG",
        [0xFF, 0xD8, 0xFF, ..] => "JPEG",
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', ..] => "GIF",
        [(byte)'B', (byte)'M', ..] => "BMP",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "WebP",
        _ => null,
    };

    private static ImageFormatException Failed(SKCodecResult result, string format) => result switch
    {
        SKCodecResult.IncompleteInput => new(ImageErrorCode.Truncated, $"the {format} file ends before its image data does"),
        SKCodecResult.Unimplemented or SKCodecResult.InvalidConversion =>
            new(ImageErrorCode.Unsupported, $"this {format} file uses a feature the decoder does not support ({result})"),
        _ => new(ImageErrorCode.BadData, $"the {format} image data is corrupt ({result})"),
    };
}

/// <summary>Decoded pixels in a (possibly longer, pooled) buffer.</summary>
internal readonly record struct Pixels(byte[] Buffer, int Width, int Height, PixelLayout Layout)
{
    public Span<byte> Span => Buffer.AsSpan(0, Width * Height * (int)Layout);

    /// <summary><paramref name="next"/>, this one's buffer back in the pool when <paramref name="next"/> has its own.</summary>
    public Pixels ReplacedBy(Pixels next)
    {
        if (next.Buffer != Buffer) ImagingPools.Bytes.Return(Buffer);
        return next;
    }
}
