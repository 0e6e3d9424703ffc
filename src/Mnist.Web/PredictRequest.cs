using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Mnist.Imaging;

namespace Mnist.Web;

/// <summary>What a prediction request carries: grey levels (ink 1) or an image file, never both.</summary>
public sealed record DigitRequest(float[]? Pixels, byte[]? Image, bool FeatureMaps);

/// <summary>
/// Reads POST /api/predict in its three forms — JSON {"pixels": [784 numbers in 0..1]}, JSON
/// {"image": "data:image/png;base64,..."}, a multipart upload with one image file (raw image
/// bodies work too: PNG, JPEG, WebP, GIF, BMP) — and refuses anything else with an
/// <see cref="ApiException"/> naming the problem. Nothing here decodes the image; that is the
/// preprocessing step's job.
/// </summary>
public static class PredictRequestReader
{
    private enum BodyKind { Json, Multipart, Image }

    /// <summary>The content types of raw image bodies.</summary>
    public static readonly IReadOnlyList<string> ImageTypes = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp"];

    public static async Task<DigitRequest> ReadAsync(HttpRequest request, int pixelCount, long maxBytes, CancellationToken cancel)
    {
        var (kind, boundary) = Classify(request.ContentType);
        var body = await RequestBody.ReadAsync(request, maxBytes, cancel);
        bool maps = request.Query.TryGetValue("featureMaps", out var flag) && flag.ToString() is "true" or "1";
        return kind switch
        {
            BodyKind.Json => ParseJson(body, pixelCount, maps),
            BodyKind.Multipart => await ParseMultipart(body, boundary!, maxBytes, maps, cancel),
            _ => new DigitRequest(null, body, maps),
        };
    }

    private static (BodyKind, string?) Classify(string? contentType)
    {
        if (contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            var type = media.MediaType.Value?.ToLowerInvariant() ?? "";
            if (type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal)) return (BodyKind.Json, null);
            if (ImageTypes.Contains(type)) return (BodyKind.Image, null);
            if (type == "multipart/form-data")
            {
                var boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value;
                if (string.IsNullOrWhiteSpace(boundary))
                    throw ApiException.BadRequest(ApiErrorCode.BadMultipart, "multipart/form-data needs a boundary parameter");
                return (BodyKind.Multipart, boundary);
            }
        }
        throw new ApiException(StatusCodes.Status415UnsupportedMediaType, ApiErrorCode.UnsupportedMediaType,
            $"send application/json, multipart/form-data or an image ({string.Join(", ", ImageTypes)}) (got {(string.IsNullOrEmpty(contentType) ? "no content type" : contentType)})");
    }

    /// <summary>Parses the JSON forms with a forward-only reader, so every problem is found where it is.</summary>
    public static DigitRequest ParseJson(byte[] body, int pixelCount, bool maps)
    {
        float[]? pixels = null;
        string? image = null;
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw ApiException.BadRequest(ApiErrorCode.BadJson,
                    "expected a JSON object: {\"pixels\": [784 numbers in 0..1]} or {\"image\": \"data:image/png;base64,...\"}");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                if (name.Equals("pixels", StringComparison.OrdinalIgnoreCase)) pixels = ReadPixels(ref reader, pixelCount);
                else if (name.Equals("image", StringComparison.OrdinalIgnoreCase))
                    image = reader.TokenType == JsonTokenType.String ? reader.GetString()
                        : throw ApiException.BadRequest(ApiErrorCode.BadImage, "image must be a string: \"data:image/png;base64,...\" (or jpeg, webp, gif, bmp)");
                else if (name.Equals("featureMaps", StringComparison.OrdinalIgnoreCase) && reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                    maps = reader.GetBoolean();
                else reader.Skip();
            }
            if (reader.Read()) throw ApiException.BadRequest(ApiErrorCode.BadJson, "unexpected content after the JSON object");
        }
        catch (JsonException e)
        {
            throw JsonProblem(body, e);
        }
        catch (InvalidOperationException e)
        {
            // a string that is not valid UTF-8, or an escaped lone surrogate ("\ud800"): the reader cannot turn it into text
            throw ApiException.BadRequest(ApiErrorCode.BadJson, "the body is not valid JSON text: " + e.Message);
        }
        return (pixels, image) switch
        {
            (not null, not null) => throw ApiException.BadRequest(ApiErrorCode.AmbiguousInput, "send either pixels or image, not both"),
            (not null, null) => new DigitRequest(pixels, null, maps),
            (null, not null) => new DigitRequest(null, DataUrlBytes(image), maps),
            _ => throw ApiException.BadRequest(ApiErrorCode.MissingInput,
                "the JSON object needs \"pixels\" (784 numbers in 0..1) or \"image\" (an image's data URL)"),
        };
    }

    private static float[] ReadPixels(ref Utf8JsonReader reader, int pixelCount)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw ApiException.BadRequest(ApiErrorCode.BadPixels, $"pixels must be an array of {pixelCount} numbers in 0..1");
        var pixels = new float[pixelCount];
        int count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int index = count++;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    if (!reader.TryGetDouble(out double value) || !double.IsFinite(value))
                        throw ApiException.BadRequest(ApiErrorCode.NotFinite, $"pixels[{index}] is not a finite number");
                    if (value is < 0 or > 1)
                        throw ApiException.BadRequest(ApiErrorCode.OutOfRange, $"pixels[{index}] is {value}, outside 0..1");
                    if (index < pixelCount) pixels[index] = (float)value;
                    break;
                case JsonTokenType.String when reader.GetString() is "NaN" or "Infinity" or "-Infinity":
                    throw ApiException.BadRequest(ApiErrorCode.NotFinite, $"pixels[{index}] is {reader.GetString()}, not a finite number");
                default:
                    throw ApiException.BadRequest(ApiErrorCode.BadPixels, $"pixels[{index}] is {Describe(reader.TokenType)}, not a number");
            }
        }
        if (count != pixelCount)
            throw ApiException.BadRequest(ApiErrorCode.WrongLength, $"expected {pixelCount} pixels (28x28, row by row), got {count}");
        return pixels;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Null => "null",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => token.ToString(),
    };

    /// <summary>
    /// Malformed JSON. JavaScript's JSON.stringify never writes NaN or Infinity, but other clients
    /// do; those get their own code rather than a parser message.
    /// </summary>
    private static ApiException JsonProblem(byte[] body, JsonException e)
    {
        int offset = Offset(body, e.LineNumber ?? 0, e.BytePositionInLine ?? 0);
        foreach (var word in (ReadOnlySpan<string>)["NaN", "-NaN", "Infinity", "-Infinity", "+Infinity"])
            if (offset < body.Length && body.AsSpan(offset).StartsWith(Encoding.ASCII.GetBytes(word)))
                return ApiException.BadRequest(ApiErrorCode.NotFinite, $"{word} is not a number JSON allows; pixels must be finite numbers in 0..1");
        return ApiException.BadRequest(ApiErrorCode.BadJson, "the body is not valid JSON: " + e.Message);
    }

    private static int Offset(byte[] body, long line, long column)
    {
        int offset = 0;
        for (long l = 0; l < line && offset < body.Length; offset++)
            if (body[offset] == (byte)'\n') l++;
        return (int)Math.Min(body.Length, offset + column);
    }

    /// <summary>The image file bytes of a data URL (the decoder checks the bytes themselves later).</summary>
    private static byte[] DataUrlBytes(string url)
    {
        try
        {
            return ImageDataUrl.ToBytes(url, int.MaxValue);
        }
        catch (ImageFormatException e)
        {
            throw ApiException.BadRequest(e.Code, e.Problem);
        }
    }

    private static async Task<DigitRequest> ParseMultipart(byte[] body, string boundary, long maxBytes, bool maps, CancellationToken cancel)
    {
        try
        {
            var reader = new MultipartReader(boundary, new MemoryStream(body)) { BodyLengthLimit = maxBytes };
            while (await reader.ReadNextSectionAsync(cancel) is { } section)
            {
                var disposition = section.GetContentDispositionHeader();
                string? name = disposition?.Name.Value?.Trim('"');
                if (disposition is null || !(disposition.IsFileDisposition() || name is "file" or "image")) continue;
                using var file = new MemoryStream();
                await section.Body.CopyToAsync(file, cancel);
                return new DigitRequest(null, file.ToArray(), maps);
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw ApiException.BadRequest(ApiErrorCode.BadMultipart, "the multipart body is malformed: " + e.Message);
        }
        throw ApiException.BadRequest(ApiErrorCode.MissingFile, "the multipart body holds no file (send the image as a file part named \"file\")");
    }
}
