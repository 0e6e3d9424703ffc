using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Mnist.Core.Evaluation;

namespace Mnist.Core.Training;

/// <summary>A split's evaluation as plain data, for JSON files and reports.</summary>
public sealed record EvaluationSummary(
    double Loss, double Accuracy, int[][] Confusion, IReadOnlyList<ClassScore> PerClass, IReadOnlyList<Mistake> WorstMistakes)
{
    public static EvaluationSummary Of(EvaluationResult r) =>
        new(r.Loss, r.Accuracy, r.ConfusionRows(), r.PerClass(), r.WorstMistakes);
}

/// <summary>
/// What a trained model carries besides its weights: how it was trained and how it did. The same
/// keys serve checkpoints, finished models and the web server's model description.
/// </summary>
public static class RunMetadata
{
    public const string TrainingKey = "mnist.training";
    public const string HistoryKey = "mnist.history";
    public const string TestAccuracyKey = "mnist.test_accuracy";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
        // A diverged run's losses are NaN or infinite: written as "NaN"/"Infinity", not an exception.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static Dictionary<string, string> Of(TrainingSpec spec, IReadOnlyList<EpochMetrics> history, double? testAccuracy = null)
    {
        var metadata = new Dictionary<string, string>
        {
            [TrainingKey] = spec.ToJson(),
            [HistoryKey] = JsonSerializer.Serialize(history, Json),
        };
        if (testAccuracy is double accuracy)
            metadata[TestAccuracyKey] = accuracy.ToString("R", CultureInfo.InvariantCulture);
        return metadata;
    }

    public static Dictionary<string, string> Of(TrainingResult result, TrainingSpec spec) =>
        Of(spec, result.History, result.Test.Accuracy);

    public static List<EpochMetrics> ParseHistory(string json) =>
        JsonSerializer.Deserialize<List<EpochMetrics>>(json, Json) ?? [];
}
