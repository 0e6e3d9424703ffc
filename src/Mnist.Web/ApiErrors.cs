using Microsoft.AspNetCore.Http;

namespace Mnist.Web;

/// <summary>The machine-readable reasons a request is refused (beside the image decoder's own, <see cref="Imaging.ImageErrorCode"/>).</summary>
public static class ApiErrorCode
{
    public const string BodyTooLarge = "body_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string BadJson = "bad_json";
    public const string MissingInput = "missing_input";
    public const string AmbiguousInput = "ambiguous_input";
    public const string BadPixels = "bad_pixels";
    public const string WrongLength = "wrong_length";
    public const string NotFinite = "not_finite";
    public const string OutOfRange = "out_of_range";
    public const string BadImage = "bad_image";
    public const string BadMultipart = "bad_multipart";
    public const string MissingFile = "missing_file";
    public const string BadRequest = "bad_request";
    public const string BadSpec = "bad_spec";
    public const string Busy = "busy";
    public const string NotFound = "not_found";
    public const string NotResumable = "not_resumable";
    public const string RegistryUnavailable = "registry_unavailable";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string AdminTokenRequired = "admin_token_required";
    public const string Overloaded = "overloaded";
    public const string Unhealthy = "unhealthy";
    public const string Internal = "internal_error";
    public const string ModelFailed = "model_failed";

    /// <summary>The code of an error answer that only has a status (a route that does not exist, a refused host, ...).</summary>
    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => AdminTokenRequired,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable => Overloaded,
        >= 500 => Internal,
        _ => BadRequest,
    };
}

/// <summary>A client mistake: answered with <see cref="Status"/> and a problem whose "code" is <see cref="Code"/> (see <see cref="Problems"/>).</summary>
public sealed class ApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    public static ApiException BadRequest(string code, string message) => new(StatusCodes.Status400BadRequest, code, message);
}

