using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Mnist.Core;
using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Models;
using Mnist.Core.Optim;
using Mnist.Core.Training;

namespace Mnist.Web;

/// <summary>
/// Runs dashboard training jobs one at a time (two cores do not train two networks well) on a
/// thread of their own, so predictions keep being answered. A finished job's model and metrics
/// go to results/web/&lt;job id&gt;/, where the dashboard can put the model into service.
/// </summary>
public sealed class TrainingJobs(ServeOptions options, ILogger<TrainingJobs> logger)
{
    private readonly ConcurrentDictionary<string, TrainingJob> _jobs = new();
    private readonly Lock _gate = new();
    private TrainingJob? _running;

    public IReadOnlyList<JobSnapshot> All() => [.. _jobs.Values.Select(j => j.Snapshot()).OrderByDescending(j => j.StartedAt)];

    public TrainingJob? Find(string id) => _jobs.GetValueOrDefault(id);

    /// <summary>The model config and spec a request describes; a bad setting is a 400 naming it.</summary>
    public static (ModelConfig Config, TrainingSpec Spec) Describe(TrainRequest request)
    {
        try
        {
            if (request.Epochs > 100) throw new MnistException($"at most 100 epochs from the dashboard, got {request.Epochs}");
            var config = Presets.Create(request.Preset, request.Width, request.Activation);
            var spec = new TrainingSpec
            {
                Epochs = request.Epochs,
                BatchSize = request.BatchSize,
                LearningRate = request.LearningRate,
                Seed = request.Seed,
                Optimizer = new OptimizerConfig(request.Optimizer),
                Schedule = new ScheduleConfig(request.Schedule),
                Limit = request.Limit,
                ValidationCount = request.Validation,
            }.Validate();
            return (config, spec);
        }
        catch (MnistException e)
        {
            throw ApiException.BadRequest(ApiErrorCode.BadSpec, e.Message);
        }
    }

    public TrainingJob Start(TrainRequest request)
    {
        var (config, spec) = Describe(request);
        TrainingJob job;
        lock (_gate)
        {
            if (_running is { IsOver: false } busy)
                throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.Busy, $"job {busy.Id} is still training; wait for it or cancel it");
            job = new TrainingJob(DateTime.UtcNow.ToString("yyyyMMdd-HHmmss") + "-" + Guid.NewGuid().ToString("N")[..6], request);
            _jobs[job.Id] = job;
            _running = job;
        }
        var thread = new Thread(() => Run(job, config, spec)) { IsBackground = true, Name = "training " + job.Id };
        thread.Start();
        return job;
    }

    private void Run(TrainingJob job, ModelConfig config, TrainingSpec spec)
    {
        try
        {
            job.SetStatus(TrainingJob.States.LoadingData);
            var data = MnistSource.Load(DataOptions.FromEnvironment(options.DataDir, job.Log));
            job.Cancellation.Token.ThrowIfCancellationRequested();
            job.SetStatus(TrainingJob.States.Training);
            job.Log($"{config.Name}: {ModelSummary.Of(config).TotalParameters:N0} parameters, {spec.Optimizer.Name} lr {spec.LearningRate}, "
                + $"{spec.Schedule.Name} schedule, batch {spec.BatchSize}, {spec.Epochs} epoch(s)");
            var clock = Stopwatch.StartNew();
            long lastSent = 0;
            var callbacks = new TrainingCallbacks
            {
                Batch = p =>
                {
                    long now = clock.ElapsedMilliseconds;
                    if (now - lastSent < 200 && p.Samples < p.EpochSamples) return;
                    lastSent = now;
                    double remaining = (p.EpochSamples - p.Samples + (double)(p.Epochs - p.Epoch) * p.EpochSamples) / Math.Max(p.ImagesPerSecond, 1);
                    job.Progress(new JobProgress(p.Epoch, p.Epochs, p.Samples, p.EpochSamples, p.Loss, p.Accuracy, p.ImagesPerSecond, remaining));
                },
                Epoch = job.Epoch,
                Log = job.Log,
            };
            var result = new Trainer(config, spec).Run(data, callbacks, cancel: job.Cancellation.Token);
            var folder = Path.Combine(options.ResultsDir, "web", job.Id);
            Directory.CreateDirectory(folder);
            var modelPath = Path.Combine(folder, DefaultModel.ModelFileName);
            ModelFile.Save(modelPath, result.Network, result.Config, result.Normalization, extraMetadata: RunMetadata.Of(result, spec));
            var metrics = new { request = job.Request, history = result.History, test = EvaluationSummary.Of(result.Test) };
            File.WriteAllText(Path.Combine(folder, "metrics.json"), JsonSerializer.Serialize(metrics, RunMetadata.Json));
            job.Finish(TrainingJob.States.Finished, result.Test.Accuracy, Path.GetFullPath(modelPath));
        }
        catch (OperationCanceledException)
        {
            job.Finish(TrainingJob.States.Cancelled, error: "cancelled");
        }
        catch (MnistException e)
        {
            job.Finish(TrainingJob.States.Failed, error: e.Message);
        }
        catch (Exception e)
        {
            logger.LogError(e, "training job {Id} failed", job.Id);
            job.Finish(TrainingJob.States.Failed, error: "the training job failed unexpectedly; see the server's log");
        }
    }
}
