using System.Diagnostics;
using Mnist.Core.Backends;
using Mnist.Core.Data;
using Mnist.Core.Evaluation;
using Mnist.Core.Inference;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Losses;
using Mnist.Core.Models;
using Mnist.Core.Optim;
using Mnist.Core.Tensors;

namespace Mnist.Core.Training;

/// <summary>What a finished (or early-stopped) training run returns: the network evaluated and to be saved (the weight average when the run keeps one).</summary>
public sealed record TrainingResult(
    Sequential Network, ModelConfig Config, Normalization Normalization, IReadOnlyList<EpochMetrics> History,
    EvaluationResult Test, bool StoppedEarly, int ResumedAfterEpoch);

/// <summary>Hooks a front end sets to follow a run.</summary>
public sealed class TrainingCallbacks
{
    public Action<BatchProgress>? Batch { get; init; }
    public Action<EpochMetrics>? Epoch { get; init; }
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Mini-batch training, read top to bottom: shuffle, forward, loss, backward, step; then
/// evaluate, report, checkpoint. Randomness (initial weights, each epoch's order, each image's
/// augmentation, dropout masks) is derived from the seed, the epoch and the batch alone, which is
/// what lets a resumed run match an uninterrupted one exactly. Batches are prepared (normalised,
/// augmented) on a background thread while the previous one trains (<see cref="BatchProducer"/>).
/// The network trains on the backend of the spec's device kind (or the one given, which must be
/// of that kind): each step uploads its batch and downloads the loss's two scalars. With a weight
/// average (<see cref="TrainingSpec.Ema"/>) the average is what is evaluated and returned.
/// </summary>
public sealed class Trainer(ModelConfig config, TrainingSpec spec, Backend? backend = null)
{
    public TrainingResult Run(MnistDataset data, TrainingCallbacks? callbacks = null, string? checkpointPath = null,
        bool resume = false, CancellationToken cancel = default)
    {
        spec.Validate();
        var device = backend ?? Devices.Get(spec.DeviceKind);
        if (device.Kind != spec.DeviceKind)
            throw new MnistException($"the training spec is for device '{spec.DeviceKind}' but the backend is {device.Name}");
        callbacks ??= new TrainingCallbacks();
        var (train, validation) = Splits(data.Train);
        var normalization = Normalization.FromTraining(train);

        var network = ModelBuilder.Build(config, spec.Seed, device);
        network.ComputeInputGradient = false;
        var named = network.NamedParameters.ToList();
        var optimizer = Optimizers.Create(spec.Optimizer, named.ConvertAll(p => p.Parameter));
        optimizer.NameParameters(named.ConvertAll(p => p.Name));
        var average = spec.Ema is float decay ? new WeightAverage(network, config, decay) : null;
        var evaluated = average?.Network ?? network;
        // Batch norm cannot normalise a batch of one image (nor can PyTorch's): such a last batch
        // is left out, a different image each epoch since the order is shuffled.
        bool dropLonelyLast = train.Count % spec.BatchSize == 1 && train.Count > 1
            && LayerTree.Leaves(network).Any(layer => layer is BatchNorm);
        int epochSamples = dropLonelyLast ? train.Count - 1 : train.Count;
        int stepsPerEpoch = (epochSamples + spec.BatchSize - 1) / spec.BatchSize;
        var schedule = Schedules.Create(spec.Schedule, spec.LearningRate, (long)stepsPerEpoch * spec.Epochs, stepsPerEpoch);
        var history = new List<EpochMetrics>();

        if (resume && checkpointPath is not null && File.Exists(checkpointPath))
            Restore(checkpointPath, network, optimizer, average, normalization, history, callbacks);
        int resumedAfter = history.Count;

        using var batches = new BatchProducer(new AugmentedBatchLoader(train, normalization, spec.AugmentationOrNone, spec.Seed), spec.BatchSize);
        var evaluator = new Evaluator();
        var views = spec.Views;
        EvaluationResult Evaluate(MnistSplit split) => evaluator.Evaluate(new Classifier(evaluated, config, normalization, views), split);
        var testSplit = spec.TestLimit is int testLimit ? data.Test.Take(testLimit) : data.Test;
        var loss = new SoftmaxCrossEntropy(spec.LabelSmoothing);
        var images = new Tensor(device, spec.BatchSize, 1, train.Height, train.Width);
        var order = new int[train.Count];
        EvaluationResult? test = history.Count > 0 ? Evaluate(testSplit) : null;
        bool stoppedEarly = StopEarly(history);

        for (int epoch = history.Count + 1; epoch <= spec.Epochs && !stoppedEarly; epoch++)
        {
            Shuffle(order, epoch);
            ReseedDropout(network, epoch);
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            int correct = 0, seen = 0;
            float rate = 0;
            batches.BeginEpoch(epoch, order, epochSamples);
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                if (batches.Next() is not { } batch) break;
                int count = batch.Count;
                if (images.Dim(0) != count) images.Reshape(count, 1, train.Height, train.Width); // the last batch
                images.CopyFromHost(batch.Images);

                var logits = network.Forward(images, training: true);
                var step = loss.Forward(logits, batch.BatchLabels);
                network.Backward(loss.Backward());
                rate = optimizer.Step(schedule);
                average?.Update(optimizer.StepCount);

                lossSum += (double)step.MeanLoss * count;
                correct += step.Correct;
                seen += count;
                callbacks.Batch?.Invoke(new BatchProgress(epoch, spec.Epochs, seen, epochSamples, lossSum / seen,
                    (double)correct / seen, seen / clock.Elapsed.TotalSeconds, clock.Elapsed));
            }
            double seconds = clock.Elapsed.TotalSeconds;

            var validated = validation is null ? null : Evaluate(validation);
            test = Evaluate(testSplit);
            var metrics = new EpochMetrics(epoch, lossSum / seen, (double)correct / seen, validated?.Loss, validated?.Accuracy,
                test.Loss, test.Accuracy, seconds, seen / seconds, rate);
            history.Add(metrics);
            if (checkpointPath is not null)
                Checkpoint.Save(checkpointPath, network, config, normalization, optimizer, spec, history, average);
            callbacks.Epoch?.Invoke(metrics);
            stoppedEarly = StopEarly(history);
            if (stoppedEarly) callbacks.Log?.Invoke($"early stop: no better validation accuracy for {spec.Patience} epochs");
        }
        return new TrainingResult(evaluated, config, normalization, history, test!, stoppedEarly, resumedAfter);
    }

    /// <summary>The (limited) training split and the validation split carved from its end.</summary>
    private (MnistSplit Train, MnistSplit? Validation) Splits(MnistSplit full)
    {
        var train = spec.Limit is int limit ? full.Take(limit) : full;
        if (spec.ValidationCount == 0) return (train, null);
        var (kept, held) = ValidationSplit.Carve(train, spec.ValidationCount);
        return (kept, held);
    }

    private void Shuffle(int[] order, int epoch)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        new Rng(SeedFor(epoch, 0)).Shuffle(order);
    }

    private void ReseedDropout(Sequential network, int epoch)
    {
        int index = 0;
        foreach (var dropout in LayerTree.Leaves(network).OfType<Dropout>())
        {
            index++;
            dropout.Reseed(SeedFor(epoch, index), (ulong)index);
        }
    }

    /// <summary>A seed for one epoch's stream, independent of what ran before.</summary>
    private ulong SeedFor(int epoch, int stream) =>
        spec.Seed * 0x9E3779B97F4A7C15UL ^ ((ulong)epoch << 20) ^ (ulong)stream * 0xD1B54A32D192ED03UL;

    private bool StopEarly(List<EpochMetrics> history)
    {
        if (spec.Patience is not int patience || history.Count <= patience) return false;
        double best = history.Max(m => m.ValidationAccuracy ?? 0);
        return history.TakeLast(patience).All(m => (m.ValidationAccuracy ?? 0) < best);
    }

    private void Restore(string path, Sequential network, Optimizer optimizer, WeightAverage? average, Normalization normalization,
        List<EpochMetrics> history, TrainingCallbacks callbacks)
    {
        var saved = Checkpoint.Load(path);
        if (saved.Spec != spec || !saved.Model.Config.SameAs(config))
            throw new MnistException($"{path} was written by a run with other settings; remove it or drop --resume");
        if (saved.Model.Normalization != normalization)
            throw new MnistException($"{path} was trained on other data (its normalisation differs)");
        var source = ModelFile.NamedTensors(saved.Model.Network);
        var target = ModelFile.NamedTensors(network);
        for (int i = 0; i < target.Count; i++) target[i].Value.CopyFrom(source[i].Value);
        optimizer.LoadState(saved.OptimizerState, saved.OptimizerSteps);
        average?.Load(saved.AverageState, path);
        history.AddRange(saved.History);
        callbacks.Log?.Invoke($"resuming after epoch {history.Count} from {path}");
    }
}
