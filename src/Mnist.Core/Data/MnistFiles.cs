using System.IO.Compression;
using System.Security.Cryptography;

namespace Mnist.Core.Data;

/// <summary>The four standard MNIST files and the SHA-256 of each one's decompressed bytes.</summary>
public static class MnistFiles
{
    public const string TrainImages = "train-images-idx3-ubyte";
    public const string TrainLabels = "train-labels-idx1-ubyte";
    public const string TestImages = "t10k-images-idx3-ubyte";
    public const string TestLabels = "t10k-labels-idx1-ubyte";

    public static readonly IReadOnlyList<string> All = [TrainImages, TrainLabels, TestImages, TestLabels];

    /// <summary>SHA-256 of the canonical decompressed files (the same on every public mirror).</summary>
    public static readonly IReadOnlyDictionary<string, string> Sha256 = new Dictionary<string, string>
    {
        [TestImages] = "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        [TestLabels] = "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        [TrainImages] = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        [TrainLabels] = "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    };

    /// <summary>The file for a standard name in a folder, raw or .gz, or null when neither exists.</summary>
    public static string? Find(string directory, string name)
    {
        var raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        var gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>The SHA-256 of the file's decompressed bytes, in lower-case hex (streamed: a huge file costs time, not memory).</summary>
    public static string DecompressedSha256(string path)
    {
        using var file = File.OpenRead(path);
        using var content = IdxFile.IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        return Convert.ToHexStringLower(SHA256.HashData(content));
    }

    /// <summary>Whether the file holds exactly the canonical bytes for its standard name.</summary>
    public static bool IsCanonical(string path, string name)
    {
        try
        {
            return DecompressedSha256(path) == Sha256[name];
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
