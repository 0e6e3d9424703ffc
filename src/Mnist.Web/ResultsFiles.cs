namespace Mnist.Web;

/// <summary>
/// Serves run reports from the results folder, read-only: only report-like files (HTML, scripts,
/// images, JSON, text), never models, the registry or checkpoints; no "..", no hidden files, and
/// nothing a link leads outside the folder.
/// </summary>
public static class ResultsFiles
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".json"] = "application/json; charset=utf-8",
        [".jsonl"] = "text/plain; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
        [".png"] = "image/png",
        [".svg"] = "image/svg+xml",
    };

    /// <summary>The content type a results file is served with, or null when its kind is not served.</summary>
    public static string? ContentType(string path) => ContentTypes.GetValueOrDefault(Path.GetExtension(path));

    /// <summary>
    /// The full path of <paramref name="relative"/> (slash-separated) inside <paramref name="root"/>,
    /// or null when it could name anything outside it.
    /// </summary>
    public static string? Resolve(string root, string relative)
    {
        if (string.IsNullOrEmpty(relative) || relative.Contains('\\') || relative.Contains('\0') || relative.StartsWith('/'))
            return null;
        var segments = relative.Split('/');
        foreach (var segment in segments)
            if (segment.Length == 0 || segment.StartsWith('.') || segment.Contains(':'))
                return null;
        string fullRoot = Path.GetFullPath(root);
        string full = Path.GetFullPath(Path.Combine([fullRoot, .. segments]));
        return IsInside(fullRoot, full) ? full : null;
    }

    /// <summary>A file to serve for the request path, following links only when they stay inside the folder.</summary>
    public static (string Path, string ContentType)? Find(string root, string relative)
    {
        if (relative.EndsWith('/')) relative += "index.html";
        var full = Resolve(root, relative);
        if (full is null) return null;
        if (Directory.Exists(full)) full = Path.Combine(full, "index.html");
        if (ContentType(full) is not { } type || !File.Exists(full)) return null;
        string fullRoot = Path.GetFullPath(root);
        // Every directory on the way and the file itself must stay inside once links are followed.
        for (var info = new FileInfo(full) as FileSystemInfo; info is not null && info.FullName.Length > fullRoot.Length;
             info = Directory.GetParent(info.FullName))
        {
            if (info.LinkTarget is null) continue;
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !IsInside(fullRoot, target.FullName)) return null;
        }
        return (full, type);
    }

    private static bool IsInside(string root, string path) =>
        path.StartsWith(Path.TrimEndingDirectorySeparator(root) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
