using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Mnist.Web;

/// <summary>
/// Who may change things (start and cancel training, switch the served model). On localhost, as
/// before, anyone who can reach the port: that is the person at the machine. Listening beyond it,
/// every write needs the admin token in an "Authorization: Bearer ..." header — the one given
/// (--admin-token) or one made at start and printed once. Reads and predictions stay open.
/// </summary>
public sealed class AdminAccess
{
    private readonly byte[]? _token;

    public AdminAccess(ServeOptions options)
    {
        Token = options.AdminToken ?? (options.IsLoopbackOnly ? null : Convert.ToBase64String(RandomNumberGenerator.GetBytes(18))
            .Replace('+', '-').Replace('/', '_'));
        Generated = options.AdminToken is null && Token is not null;
        _token = Token is null ? null : Encoding.UTF8.GetBytes(Token);
    }

    /// <summary>The token writes need (null: none needed).</summary>
    public string? Token { get; }

    /// <summary>Whether the token was made here (then it is printed once at start).</summary>
    public bool Generated { get; }

    public bool Required => Token is not null;

    /// <summary>Whether a request carries the token (compared in constant time).</summary>
    public bool Allows(HttpRequest request)
    {
        if (_token is null) return true;
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), _token);
    }

    /// <summary>
    /// The endpoints mapped by <paramref name="map"/> in a group whose writes (anything but GET and
    /// HEAD) need the token: the endpoints themselves need not know.
    /// </summary>
    public static void MapWithWritesGuarded(IEndpointRouteBuilder app, Action<IEndpointRouteBuilder> map)
    {
        var group = app.MapGroup("");
        group.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method)) return await next(context);
            if (http.RequestServices.GetRequiredService<AdminAccess>().Allows(http.Request)) return await next(context);
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, detail:
                "this server listens beyond localhost: starting or cancelling training and switching the model need its admin token "
                + "(\"Authorization: Bearer <token>\"; the token `mnist serve` printed at start, or the one given with --admin-token)",
                extensions: new Dictionary<string, object?> { [Problems.CodeMember] = ApiErrorCode.AdminTokenRequired });
        });
        map(group);
        // lets the dashboard know whether to ask for the token
        app.MapGet("/api/access", (AdminAccess access) => Results.Json(new { writesNeedToken = access.Required }, WebJson.Options))
            .ExcludeFromDescription();
    }
}
