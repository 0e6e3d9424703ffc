using Mnist.Core;

namespace Mnist.Imaging;

/// <summary>Machine-readable reasons an image is refused (the web API answers with them as they are).</summary>
public static class ImageErrorCode
{
    /// <summary>The bytes are not a PNG, JPEG, WebP, GIF or BMP file.</summary>
    public const string NotImage = "not_image";
    /// <summary>An image format other than those five (ICO, WBMP, ...), or a feature of one the decoder lacks.</summary>
    public const string Unsupported = "unsupported";
    /// <summary>The declared size is over the limit (checked before any pixel is decoded), or a data URL carries too much.</summary>
    public const string TooLarge = "too_large";
    /// <summary>The file ends before its image data does.</summary>
    public const string Truncated = "truncated";
    /// <summary>The image data is corrupt.</summary>
    public const string BadData = "bad_data";
    /// <summary>A text that should be a data: URL of an image is not one.</summary>
    public const string BadDataUrl = "bad_data_url";
    /// <summary>A data URL's base64 text is invalid.</summary>
    public const string BadBase64 = "bad_base64";
}

/// <summary>
/// A refused image. <see cref="Code"/> is one of <see cref="ImageErrorCode"/>'s constants, for
/// programs; the message is for people.
/// </summary>
public sealed class ImageFormatException(string code, string message, Exception? inner = null)
    : MnistException($"invalid image ({code}): {message}", inner)
{
    public string Code { get; } = code;

    /// <summary>The explanation alone, without the "invalid image (code)" prefix.</summary>
    public string Problem { get; } = message;
}
