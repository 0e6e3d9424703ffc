using System.Globalization;
using System.Text.Json.Nodes;
using Mnist.Core.Backends;
using Mnist.Core.Inference;
using Mnist.Core.IO;
using Mnist.Core.Models;
using Mnist.Core.Training;

namespace Mnist.Web;

/// <summary>
/// What GET /api/model says about the served model. For an ensemble: the first member's layers,
/// the members' parameters together, the ensemble's test accuracy, and each member's.
/// </summary>
public sealed record ModelDescription(
    string Path, string Name, int[] InputShape, long Parameters, IReadOnlyList<LayerRow> Layers, string Summary,
    double? TestAccuracy, JsonNode? Training, JsonNode? History, float NormalizationMean, float NormalizationStd, string LoadedAt,
    IReadOnlyList<EnsembleMember>? Members = null, string? TestTimeAugmentation = null)
{
    public static ModelDescription Of(string path, LoadedModel model) =>
        Of(new LoadedClassifier(path, [model], null, Core.Augmentation.TestTimeAugmentation.None));

    public static ModelDescription Of(LoadedClassifier loaded)
    {
        var model = loaded.Models[0];
        var summary = ModelSummary.Of(model.Network, model.Config.InputShape);
        long parameters = loaded.Models.Sum(m => ModelSummary.Of(m.Network, m.Config.InputShape).TotalParameters);
        double? accuracy = loaded.Ensemble is { } ensemble ? ensemble.TestAccuracy
            : double.TryParse(model.Meta(RunMetadata.TestAccuracyKey), NumberStyles.Float, CultureInfo.InvariantCulture, out double a) ? a : null;
        string name = loaded.Ensemble is null ? model.Config.Name ?? "custom" : $"ensemble of {loaded.Models.Count} ({model.Config.Name ?? "custom"})";
        return new ModelDescription(
            System.IO.Path.GetFullPath(loaded.Path), name, model.Config.InputShape, parameters,
            [.. summary.Rows.Select(r => new LayerRow(r.Index, r.Layer, r.OutputShape, r.Parameters))], summary.ToTable(),
            accuracy, ParseJson(model.Meta(RunMetadata.TrainingKey)), ParseJson(model.Meta(RunMetadata.HistoryKey)),
            model.Normalization.Mean, model.Normalization.Std, DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            loaded.Ensemble?.Members, loaded.Views.IsOff ? null : loaded.Views.Name);
    }

    /// <summary>Metadata JSON as a node, or null when absent or unreadable (a model from elsewhere).</summary>
    private static JsonNode? ParseJson(string? json)
    {
        if (json is null) return null;
        try { return JsonNode.Parse(json); }
        catch (System.Text.Json.JsonException) { return null; }
    }
}

public sealed record LayerRow(int Index, string Layer, int[] OutputShape, long Parameters);

/// <summary>A loaded model (or ensemble) with its predictors: what one request uses from start to finish.</summary>
public sealed class ServedModel(LoadedClassifier loaded, int predictors)
{
    public LoadedClassifier Loaded { get; } = loaded;
    public PredictorPool Pool { get; } = new(loaded.Classifier, predictors);
    public ModelDescription Description { get; } = ModelDescription.Of(loaded);
    public int PixelCount => Loaded.Classifier.InputShape.Aggregate(1, (a, b) => a * b);

    /// <summary>Loads the model or ensemble onto <paramref name="backend"/>, where its predictors will run, if it can be served.</summary>
    public static ServedModel Load(string path, int predictors, Backend backend)
    {
        var loaded = ClassifierFile.Load(path, backend);
        foreach (var model in loaded.Models) CheckServable(model, model.File.Source);
        return new(loaded, predictors);
    }

    /// <summary>
    /// Refuses a model whose answers would not be numbers: NaN or infinite weights (a diverged
    /// run), or probabilities that are not finite for two plain inputs (a broken batch-norm
    /// variance, say). JSON cannot carry NaN, and such a model answers nothing useful.
    /// </summary>
    public static void CheckServable(LoadedModel model, string path)
    {
        const string Why = "it cannot be served";
        foreach (var (name, tensor) in ModelFile.NamedTensors(model.Network))
            foreach (float v in tensor.ToArray())
                if (!float.IsFinite(v)) throw new Core.MnistException($"{path}: tensor {name} holds {v} (a diverged training run?); {Why}");
        int pixels = model.Config.InputShape.Aggregate(1, (a, b) => a * b);
        var predictor = new Predictor(model);
        foreach (float level in (ReadOnlySpan<float>)[0f, 0.5f])
        {
            var input = new float[pixels];
            for (int i = 0; i < pixels; i += 3) input[i] = level;
            if (!predictor.Predict(input).Probabilities.All(float.IsFinite))
                throw new Core.MnistException($"{path}: the model's probabilities are not finite numbers; {Why}");
        }
    }
}

/// <summary>
/// Holds the served model, loaded once at start-up. The dashboard can swap in another one; a
/// request keeps the model it started with, so a swap never mixes two models in one answer.
/// </summary>
public sealed class ModelHost(ServedModel initial)
{
    private volatile ServedModel _current = initial;
    private volatile bool _warm;

    public ServedModel Current => _current;

    /// <summary>Whether the first prediction has run (the health check's "ready").</summary>
    public bool IsWarm => _warm;

    public void MarkWarm() => _warm = true;

    /// <summary>Loads <paramref name="path"/> fully before it replaces the current model (a bad file changes nothing).</summary>
    public ModelDescription Swap(string path)
    {
        var next = ServedModel.Load(path, _current.Pool.Size, _current.Loaded.Models[0].Network.Backend);
        _current = next;
        return next.Description;
    }
}
