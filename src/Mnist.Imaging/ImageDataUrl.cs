using System.Text.RegularExpressions;

namespace Mnist.Imaging;

/// <summary>
/// "data:image/...;base64,..." URLs: what a browser canvas's toDataURL writes, and how pages carry
/// small images inline.
/// </summary>
public static partial class ImageDataUrl
{
    public static string Of(byte[] file, string mediaType) => $"data:{mediaType};base64,{Convert.ToBase64String(file)}";

    /// <summary>
    /// The file bytes a data URL of a PNG, JPEG, WebP, GIF or BMP image carries (the decoder checks
    /// the bytes themselves). The base64 text is measured against <paramref name="maxBytes"/>
    /// before it is decoded; refusals are <see cref="ImageFormatException"/>s (bad_data_url,
    /// too_large, bad_base64).
    /// </summary>
    public static byte[] ToBytes(string url, int maxBytes = 8 << 20)
    {
        var header = Header().Match(url);
        if (!header.Success)
        {
            string start = url.Length > 40 ? url[..40] + "..." : url;
            throw new ImageFormatException(ImageErrorCode.BadDataUrl,
                $"expected a URL like \"data:image/png;base64,...\" (PNG, JPEG, WebP, GIF or BMP), got \"{start}\"");
        }
        var text = url.AsSpan(header.Length).Trim();
        if ((long)text.Length * 3 / 4 > maxBytes)
            throw new ImageFormatException(ImageErrorCode.TooLarge, $"the data URL carries more than {maxBytes} bytes");
        var bytes = new byte[text.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64Chars(text, bytes, out int written))
            throw new ImageFormatException(ImageErrorCode.BadBase64, "the data URL's base64 text is invalid");
        return bytes[..written];
    }

    [GeneratedRegex(@"^data:image/(png|jpeg|jpg|webp|gif|bmp)(;[a-z0-9=._+-]+)*;base64,", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Header();
}
