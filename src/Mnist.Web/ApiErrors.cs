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
    public const string Internal = "internal_error";
}

/// <summary>A client mistake: answered with <see cref="Status"/> and {"error": code, "message": ...}.</summary>
public sealed class ApiException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    public static ApiException BadRequest(string code, string message) => new(StatusCodes.Status400BadRequest, code, message);
}

/// <summary>The body of every error answer.</summary>
public sealed record ApiError(string Error, string Message);

/// <summary>
/// Turns refusals into JSON answers with the right status: an <see cref="ApiException"/> as it
/// says, Kestrel's own refusals (a body over its limit, a malformed request) as 413/400. Anything
/// else is a bug in the server: logged, and answered 500 without details.
/// </summary>
public sealed class ApiErrorMiddleware(RequestDelegate next, ILogger<ApiErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (ApiException e)
        {
            await Write(context, e.Status, e.Code, e.Message);
        }
        catch (BadHttpRequestException e)
        {
            bool tooLarge = e.StatusCode == StatusCodes.Status413PayloadTooLarge;
            await Write(context, e.StatusCode, tooLarge ? ApiErrorCode.BodyTooLarge : ApiErrorCode.BadRequest, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception e)
        {
            logger.LogError(e, "unhandled error for {Method} {Path}", context.Request.Method, context.Request.Path);
            await Write(context, StatusCodes.Status500InternalServerError, ApiErrorCode.Internal, "the server failed; see its log");
        }
    }

    public static async Task Write(HttpContext context, int status, string code, string message)
    {
        if (context.Response.HasStarted) return;
        context.Response.Clear();
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status413PayloadTooLarge) context.Response.Headers.Connection = "close";
        await context.Response.WriteAsJsonAsync(new ApiError(code, message), WebJson.Options);
    }
}
