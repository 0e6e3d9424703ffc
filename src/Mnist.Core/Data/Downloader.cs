namespace Mnist.Core.Data;

/// <summary>Downloads the .gz files from HTTP(S) mirrors into the cache through temporary files.</summary>
internal sealed class Downloader(DataOptions options)
{
    public const string PartSuffix = ".part";

    private readonly HttpClient _http = new() { Timeout = options.DownloadTimeout };

    /// <summary>Tries each mirror in turn; true once a verified copy is in the cache.</summary>
    public bool FromMirrors(string name)
    {
        foreach (var mirror in options.Mirrors)
        {
            var url = mirror.TrimEnd('/') + "/" + name + ".gz";
            var temp = Path.Combine(options.CacheDir, $".{name}.{Guid.NewGuid():N}{PartSuffix}");
            try
            {
                options.Log($"  downloading {url}");
                Download(url, temp);
                if (MnistSource.Adopt(temp, options.CacheDir, name, name + ".gz", options.Log, url)) return true;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidDataException)
            {
                options.Log($"  failed {url}: {e.Message}");
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        return false;
    }

    private void Download(string url, string temp)
    {
        using var response = _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        long? expected = response.Content.Headers.ContentLength;
        using (var body = response.Content.ReadAsStream())
        using (var file = File.Create(temp))
            body.CopyTo(file);
        long got = new FileInfo(temp).Length;
        if (expected is { } length && got != length)
            throw new IOException($"connection ended after {got} of {length} bytes");
    }
}
