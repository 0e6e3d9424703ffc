namespace Mnist.Core.Imaging;

/// <summary>Reads the "data:image/png;base64,..." URLs a browser canvas produces (toDataURL).</summary>
public static class PngDataUrl
{
    private const string Prefix = "data:image/png;base64,";

    /// <summary>
    /// Decodes the URL's PNG. The base64 text is checked against <paramref name="maxBytes"/> before
    /// it is decoded; refusals are <see cref="PngFormatException"/>s (not_png, too_large, bad_data).
    /// </summary>
    public static PngImage Decode(string dataUrl, PngLimits? limits = null, int maxBytes = 8 << 20) =>
        PngDecoder.Decode(ToBytes(dataUrl, maxBytes), limits);

    /// <summary>The PNG file bytes a data URL carries.</summary>
    public static byte[] ToBytes(string dataUrl, int maxBytes = 8 << 20)
    {
        if (!dataUrl.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            string start = dataUrl.Length > 30 ? dataUrl[..30] + "..." : dataUrl;
            throw new PngFormatException(PngErrorCode.NotPng, $"expected a URL starting with \"{Prefix}\", got \"{start}\"");
        }
        var text = dataUrl.AsSpan(Prefix.Length).Trim();
        if ((long)text.Length * 3 / 4 > maxBytes)
            throw new PngFormatException(PngErrorCode.TooLarge, $"the data URL carries more than {maxBytes} bytes");
        var bytes = new byte[text.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64Chars(text, bytes, out int written))
            throw new PngFormatException(PngErrorCode.BadData, "the data URL's base64 text is invalid");
        return bytes[..written];
    }
}
