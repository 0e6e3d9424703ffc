using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Mnist.Web;

/// <summary>
/// The page's own files (wwwroot/, embedded in this assembly): no CDN, no file system, the same
/// bytes wherever the server starts. Served with an ETag and a strict content-security policy
/// that allows nothing from elsewhere.
/// </summary>
public sealed class StaticAssets
{
    public sealed record Asset(string Name, byte[] Content, string ContentType, string ETag);

    /// <summary>Scripts, styles and images from this server only; data: URLs for the images the API returns.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly Dictionary<string, string> Types = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".ico"] = "image/x-icon",
    };

    public IReadOnlyDictionary<string, Asset> ByName { get; }

    public StaticAssets() : this(typeof(StaticAssets).Assembly) { }

    public StaticAssets(Assembly assembly)
    {
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            string name = resource["wwwroot/".Length..];
            string type = Types.GetValueOrDefault(Path.GetExtension(name), "application/octet-stream");
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content)[..8]) + "\"";
            assets[name] = new Asset(name, content, type, etag);
        }
        ByName = assets;
    }

    /// <summary>Maps "/" to index.html, "/dashboard" to dashboard.html and every file to "/name".</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        foreach (var asset in ByName.Values)
        {
            app.MapGet("/" + asset.Name, (HttpContext c) => Serve(c, asset)).ExcludeFromDescription();
            if (asset.Name == "index.html") app.MapGet("/", (HttpContext c) => Serve(c, asset)).ExcludeFromDescription();
            if (asset.Name == "dashboard.html") app.MapGet("/dashboard", (HttpContext c) => Serve(c, asset)).ExcludeFromDescription();
        }
    }

    private static IResult Serve(HttpContext context, Asset asset)
    {
        var headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        if (asset.ContentType.StartsWith("text/html", StringComparison.Ordinal))
        {
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
        }
        var ifNoneMatch = context.Request.Headers.IfNoneMatch.ToString();
        if (ifNoneMatch.Length > 0 && EntityTagHeaderValue.TryParseList([ifNoneMatch], out var tags)
            && tags.Any(t => t.Tag.Value == asset.ETag || t.Tag.Value == "*"))
            return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Content, asset.ContentType);
    }
}
