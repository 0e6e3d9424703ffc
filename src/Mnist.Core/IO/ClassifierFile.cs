using System.Security.Cryptography;
using Mnist.Core.Augmentation;
using Mnist.Core.Backends;
using Mnist.Core.Inference;
using Mnist.Core.Training;

namespace Mnist.Core.IO;

/// <summary>
/// A model file or an ensemble, loaded: what eval, predict and serve work with. A model is an
/// ensemble of one without a manifest. <see cref="Views"/> is the test-time augmentation its
/// training used (a model's training spec, an ensemble's manifest) unless the loader was told otherwise.
/// </summary>
public sealed record LoadedClassifier(string Path, IReadOnlyList<LoadedModel> Models, EnsembleManifest? Ensemble, TestTimeAugmentation Views)
{
    public bool IsEnsemble => Ensemble is not null;

    /// <summary>The members' networks with their views, ready to evaluate or predict.</summary>
    public Classifier Classifier { get; } = new([.. Models.Select(ClassifierMember.Of)], Views);
}

/// <summary>
/// The one loader of models and ensembles: a safetensors model file, an ensemble manifest
/// (<see cref="EnsembleManifest.FileName"/>) or the folder holding one. Anything else is one
/// clear error naming the file; so is a member file that is missing or whose bytes are not those
/// the manifest's SHA-256 names.
/// </summary>
public static class ClassifierFile
{
    /// <param name="views">The test-time augmentation to use instead of the one the file records.</param>
    public static LoadedClassifier Load(string path, Backend backend, string? views = null)
    {
        string file = Directory.Exists(path) ? System.IO.Path.Combine(path, EnsembleManifest.FileName) : path;
        if (!File.Exists(file))
            throw new MnistException(Directory.Exists(path) ? $"{path} is a folder without an {EnsembleManifest.FileName}" : $"model file not found: {path}");
        var bytes = Read(file);
        if (LooksLikeJson(bytes)) return LoadEnsemble(file, EnsembleManifest.Parse(bytes, file), backend, views);
        // anything else is read as a model file, whose parser says what is wrong with it
        var model = ModelFile.Load(SafeTensors.Parse(bytes, file), backend);
        return new LoadedClassifier(file, [model], null, ViewsOf(views, TrainedViews(model)));
    }

    /// <summary>
    /// Writes an ensemble into <paramref name="folder"/>: each member file copied as member-N.safetensors,
    /// then the manifest (atomically, last: a folder with a manifest is a whole ensemble).
    /// </summary>
    public static EnsembleManifest SaveEnsemble(string folder, IReadOnlyList<(string ModelPath, string? Run, double? TestAccuracy)> members,
        string? testTimeAugmentation, double? testAccuracy, int? testCount)
    {
        Directory.CreateDirectory(folder);
        var written = new List<EnsembleMember>();
        for (int i = 0; i < members.Count; i++)
        {
            var (source, run, accuracy) = members[i];
            string name = $"member-{i + 1}.safetensors";
            var bytes = Read(source);
            WriteAtomic(System.IO.Path.Combine(folder, name), bytes);
            written.Add(new EnsembleMember(name, Sha256(bytes), run, accuracy));
        }
        var manifest = EnsembleManifest.For(written, testTimeAugmentation, testAccuracy, testCount);
        WriteAtomic(System.IO.Path.Combine(folder, EnsembleManifest.FileName), System.Text.Encoding.UTF8.GetBytes(manifest.ToJson() + "\n"));
        return manifest;
    }

    private static LoadedClassifier LoadEnsemble(string file, EnsembleManifest manifest, Backend backend, string? views)
    {
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;
        var models = new List<LoadedModel>();
        foreach (var member in manifest.Members)
        {
            string memberPath = System.IO.Path.Combine(folder, member.File);
            if (!File.Exists(memberPath)) throw new MnistException($"{file}: member file {member.File} is missing");
            var bytes = Read(memberPath);
            if (Sha256(bytes) != member.Sha256)
                throw new MnistException($"{file}: member file {member.File} is damaged or was replaced (its SHA-256 is not the manifest's)");
            models.Add(ModelFile.Load(SafeTensors.Parse(bytes, memberPath), backend));
        }
        var first = models[0].Config;
        foreach (var model in models.Skip(1))
            if (!model.Config.InputShape.SequenceEqual(first.InputShape) || model.Config.NumClasses != first.NumClasses)
                throw new MnistException($"{file}: its members do not all take the same input and answer the same classes");
        return new LoadedClassifier(file, models, manifest, ViewsOf(views, manifest.TestTimeAugmentation));
    }

    /// <summary>The test-time augmentation a model's training spec names (none when it has no readable spec).</summary>
    private static string? TrainedViews(LoadedModel model)
    {
        if (model.Meta(RunMetadata.TrainingKey) is not { } json) return null;
        try
        {
            return TrainingSpec.FromJson(json).TestTimeAugmentation;
        }
        catch (MnistException)
        {
            return null; // a model from elsewhere: its weights are what matter here
        }
    }

    private static TestTimeAugmentation ViewsOf(string? given, string? recorded) => TestTimeAugmentation.Named(given ?? recorded);

    private static byte[] Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot read {path}: {e.Message}", e);
        }
    }

    private static void WriteAtomic(string path, byte[] bytes)
    {
        string temporary = path + ".tmp";
        try
        {
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MnistException($"cannot write {path}: {e.Message}", e);
        }
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>JSON text: '{' first, after an optional byte-order mark and white space.</summary>
    private static bool LooksLikeJson(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        foreach (byte b in bytes)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            return b == (byte)'{';
        }
        return false;
    }
}
