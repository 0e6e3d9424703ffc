using System.Globalization;
using System.Text.Json;
using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Optim;
using Mnist.Core.Tensors;

namespace Mnist.Core.Training;

/// <summary>
/// The state after a finished epoch: weights, buffers, optimizer state, the weight average (when
/// the run keeps one) and the history so far, in one safetensors file (written atomically), so
/// `--resume` continues as if never stopped.
/// </summary>
public static class Checkpoint
{
    public const string OptimizerPrefix = "optimizer.";
    private const string EpochKey = "mnist.checkpoint.epoch";
    private const string StepsKey = "mnist.checkpoint.optimizer_steps";

    public static void Save(string path, Sequential network, ModelConfig config, Normalization normalization,
        Optimizer optimizer, TrainingSpec spec, IReadOnlyList<EpochMetrics> history, WeightAverage? average = null)
    {
        var state = optimizer.State.Select(s => (OptimizerPrefix + s.Name, s.Value));
        if (average is not null) state = state.Concat(average.State);
        var metadata = RunMetadata.Of(spec, history);
        metadata[EpochKey] = history.Count.ToString(CultureInfo.InvariantCulture);
        metadata[StepsKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        ModelFile.Save(path, network, config, normalization, state, metadata);
    }

    /// <summary>What a checkpoint restores.</summary>
    /// <param name="AverageState">The weight average's tensors by their model names (empty when the run keeps none).</param>
    public sealed record Restored(LoadedModel Model, TrainingSpec Spec, List<EpochMetrics> History, long OptimizerSteps,
        IReadOnlyList<(string Name, Tensor Value)> OptimizerState, IReadOnlyDictionary<string, Tensor> AverageState);

    public static Restored Load(string path)
    {
        var model = ModelFile.Load(path, OptimizerPrefix, WeightAverage.CheckpointPrefix);
        string Need(string key) => model.Meta(key) ?? throw new MnistException($"{path} is a model, not a training checkpoint ('{key}' missing)");
        try
        {
            var spec = TrainingSpec.FromJson(Need(RunMetadata.TrainingKey));
            var history = RunMetadata.ParseHistory(Need(RunMetadata.HistoryKey));
            long steps = long.Parse(Need(StepsKey), CultureInfo.InvariantCulture);
            if (int.Parse(Need(EpochKey), CultureInfo.InvariantCulture) != history.Count)
                throw new FormatException("epoch count and history disagree");
            var state = Prefixed(model, OptimizerPrefix).ToList();
            var average = Prefixed(model, WeightAverage.CheckpointPrefix).ToDictionary(e => e.Name, e => e.Value);
            return new Restored(model, spec, history, steps, state, average);
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException)
        {
            throw new MnistException($"{path}: corrupt checkpoint metadata: {e.Message}", e);
        }
    }

    private static IEnumerable<(string Name, Tensor Value)> Prefixed(LoadedModel model, string prefix) =>
        model.File.Entries
            .Where(e => e.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(e => (e.Name[prefix.Length..], e.Value));
}
