using Mnist.Core.Imaging;
using SkiaSharp;

namespace Mnist.Imaging;

/// <summary>
/// Turns stored pixels the way the file's EXIF orientation says they are meant to be seen (a phone
/// held upright stores a sideways image and says "rotate 90°").
/// </summary>
internal static class Orientation
{
    /// <summary>The image as seen: the same buffer when no turn is needed, else a new pooled one.</summary>
    public static Pixels Apply(Pixels image, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft || !Enum.IsDefined(origin)) return image;
        int w = image.Width, h = image.Height, channels = (int)image.Layout;
        bool swaps = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int outW = swaps ? h : w, outH = swaps ? w : h;
        var result = ImagingPools.Bytes.Rent(w * h * channels);
        var source = image.Span;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                // where stored pixel (x, y) is seen: EXIF says which side row 0 and column 0 belong on
                var (tx, ty) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (h - 1 - y, x),
                    SKEncodedOrigin.RightBottom => (h - 1 - y, w - 1 - x),
                    _ => (y, w - 1 - x), // LeftBottom
                };
                source.Slice((y * w + x) * channels, channels).CopyTo(result.AsSpan((ty * outW + tx) * channels));
            }
        return new Pixels(result, outW, outH, image.Layout);
    }
}
