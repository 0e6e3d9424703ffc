using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mnist.Core.IO;

/// <summary>One member of an ensemble: its model file beside the manifest, and where it came from.</summary>
/// <param name="File">The member's safetensors file, a plain name in the manifest's folder.</param>
/// <param name="Sha256">The file's SHA-256 (lower-case hex): a changed or damaged member is refused.</param>
/// <param name="Run">The registry run it was trained by, when known.</param>
/// <param name="TestAccuracy">Its own test accuracy when the ensemble was made.</param>
public sealed record EnsembleMember(string File, string Sha256, string? Run = null, double? TestAccuracy = null);

/// <summary>
/// An ensemble on disk: <c>ensemble.json</c> (this manifest) and one safetensors model file per
/// member beside it. Its answer is the mean of its members' probabilities, each member seeing
/// the image as its own normalisation says, over the views of its test-time augmentation.
/// Parsing checks everything a program could be fooled by: the format name and version,
/// member file names (plain names, no folders), hashes, counts, and the size of the text.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record EnsembleManifest(
    string Format,
    int Version,
    IReadOnlyList<EnsembleMember> Members,
    string? TestTimeAugmentation = null,
    double? TestAccuracy = null,
    int? TestCount = null)
{
    public const string FormatName = "mnist-ensemble";
    public const int CurrentVersion = 1;
    public const string FileName = "ensemble.json";
    public const int MaxMembers = 64;
    public const int MaxBytes = 1 << 20;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    public static EnsembleManifest For(IReadOnlyList<EnsembleMember> members, string? testTimeAugmentation = null,
        double? testAccuracy = null, int? testCount = null) =>
        new EnsembleManifest(FormatName, CurrentVersion, members, testTimeAugmentation, testAccuracy, testCount).Validate("ensemble");

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The manifest in <paramref name="bytes"/>; <see cref="MnistException"/> naming <paramref name="source"/> for anything amiss.</summary>
    public static EnsembleManifest Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length > MaxBytes) throw Bad(source, $"it is {bytes.Length} bytes, more than the {MaxBytes} a manifest may have");
        EnsembleManifest? manifest;
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow });
            manifest = JsonSerializer.Deserialize<EnsembleManifest>(ref reader, Json);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw Bad(source, OneLine(e.Message));
        }
        if (manifest is null) throw Bad(source, "it is null");
        return manifest.Validate(source);
    }

    private EnsembleManifest Validate(string source)
    {
        if (Format != FormatName) throw Bad(source, $"format is '{Format}', not '{FormatName}'");
        if (Version != CurrentVersion) throw Bad(source, $"version {Version} is not {CurrentVersion}, the one this build reads");
        if (Members is null || Members.Count == 0) throw Bad(source, "it has no members");
        if (Members.Count > MaxMembers) throw Bad(source, $"{Members.Count} members, more than {MaxMembers}");
        var files = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in Members)
        {
            if (member is null) throw Bad(source, "a member is null");
            if (string.IsNullOrWhiteSpace(member.File) || member.File != Path.GetFileName(member.File) || member.File is "." or ".."
                || member.File.IndexOfAny(['/', '\\', '\0']) >= 0)
                throw Bad(source, $"member file '{member.File}' is not a plain file name beside the manifest");
            if (!files.Add(member.File)) throw Bad(source, $"member file '{member.File}' is listed twice");
            if (member.Sha256 is null || member.Sha256.Length != 64 || !member.Sha256.All(char.IsAsciiHexDigitLower))
                throw Bad(source, $"member {member.File} has no SHA-256 of 64 lower-case hex digits");
            if (member.TestAccuracy is double a && !(a >= 0 && a <= 1)) throw Bad(source, $"member {member.File}'s test accuracy {a} is not in [0, 1]");
        }
        if (TestAccuracy is double accuracy && !(accuracy >= 0 && accuracy <= 1)) throw Bad(source, $"test accuracy {accuracy} is not in [0, 1]");
        if (TestCount is < 0) throw Bad(source, $"test count {TestCount} is negative");
        try
        {
            _ = Augmentation.TestTimeAugmentation.Named(TestTimeAugmentation);
        }
        catch (MnistException e)
        {
            throw Bad(source, e.Message);
        }
        return this;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private static MnistException Bad(string source, string problem) => new($"{source}: not a valid ensemble manifest: {problem}");
}
