using System.Globalization;
using System.Text.Json.Nodes;
using Mnist.Core.IO;
using Mnist.Core.Models;
using Mnist.Core.Training;

namespace Mnist.Web;

/// <summary>What GET /api/model says about the served model.</summary>
public sealed record ModelDescription(
    string Path, string Name, int[] InputShape, long Parameters, IReadOnlyList<LayerRow> Layers, string Summary,
    double? TestAccuracy, JsonNode? Training, JsonNode? History, float NormalizationMean, float NormalizationStd, string LoadedAt)
{
    public static ModelDescription Of(string path, LoadedModel model)
    {
        var summary = ModelSummary.Of(model.Network, model.Config.InputShape);
        double? accuracy = double.TryParse(model.Meta(RunMetadata.TestAccuracyKey), NumberStyles.Float, CultureInfo.InvariantCulture, out double a)
            ? a : null;
        return new ModelDescription(
            System.IO.Path.GetFullPath(path), model.Config.Name ?? "custom", model.Config.InputShape, summary.TotalParameters,
            [.. summary.Rows.Select(r => new LayerRow(r.Index, r.Layer, r.OutputShape, r.Parameters))], summary.ToTable(),
            accuracy, ParseJson(model.Meta(RunMetadata.TrainingKey)), ParseJson(model.Meta(RunMetadata.HistoryKey)),
            model.Normalization.Mean, model.Normalization.Std, DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"));
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

/// <summary>A loaded model with its predictors: what one request uses from start to finish.</summary>
public sealed class ServedModel(string path, LoadedModel model, int predictors)
{
    public LoadedModel Model { get; } = model;
    public PredictorPool Pool { get; } = new(model, predictors);
    public ModelDescription Description { get; } = ModelDescription.Of(path, model);
    public int PixelCount => Model.Config.InputShape.Aggregate(1, (a, b) => a * b);

    public static ServedModel Load(string path, int predictors) => new(path, ModelFile.Load(path), predictors);
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
        var next = ServedModel.Load(path, _current.Pool.Size);
        _current = next;
        return next.Description;
    }
}
