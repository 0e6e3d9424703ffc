namespace Mnist.Core.Data;

/// <summary>
/// Remembers that a cached file was verified (its size and write time), so later runs skip
/// decompressing and hashing it again. A changed file no longer matches and is hashed anew.
/// </summary>
internal static class VerifiedStamp
{
    private static string StampPath(string path) => path + ".verified";

    private static string Describe(string path)
    {
        var info = new FileInfo(path);
        return $"{info.Length} {info.LastWriteTimeUtc.Ticks}";
    }

    public static bool IsCurrent(string path) =>
        File.Exists(StampPath(path)) && File.ReadAllText(StampPath(path)) == Describe(path);

    public static void Write(string path) => File.WriteAllText(StampPath(path), Describe(path));
}
