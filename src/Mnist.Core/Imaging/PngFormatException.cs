namespace Mnist.Core.Imaging;

/// <summary>Machine-readable reasons a PNG is refused (the web API returns them as-is).</summary>
public static class PngErrorCode
{
    /// <summary>The bytes do not start with the PNG signature (or a data URL is not a PNG one).</summary>
    public const string NotPng = "not_png";
    /// <summary>The file ends inside a chunk, or before IEND.</summary>
    public const string Truncated = "truncated";
    /// <summary>A chunk's CRC-32 does not match its type and data.</summary>
    public const string BadCrc = "bad_crc";
    /// <summary>A chunk is malformed, misplaced, repeated, missing, or has the wrong length.</summary>
    public const string BadChunk = "bad_chunk";
    /// <summary>IHDR holds values the PNG specification does not allow.</summary>
    public const string BadHeader = "bad_header";
    /// <summary>Valid PNG using a feature this decoder does not implement (an unknown critical chunk).</summary>
    public const string Unsupported = "unsupported";
    /// <summary>The image is larger than the caller's limit, or its data inflates past what IHDR implies.</summary>
    public const string TooLarge = "too_large";
    /// <summary>The compressed image data is corrupt, too short, or holds invalid filter types or palette indices.</summary>
    public const string BadData = "bad_data";
}

/// <summary>
/// A refused PNG. <see cref="Code"/> is one of <see cref="PngErrorCode"/>'s constants, for programs;
/// the message is for people.
/// </summary>
public sealed class PngFormatException(string code, string message, Exception? inner = null)
    : MnistException($"invalid PNG ({code}): {message}", inner)
{
    public string Code { get; } = code;

    /// <summary>The explanation alone, without the "invalid PNG (code)" prefix.</summary>
    public string Problem { get; } = message;
}
