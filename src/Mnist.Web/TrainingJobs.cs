using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.FSharp.Core;
using Mnist.Core;
using Mnist.Core.Backends;
using Mnist.Core.Optim;
using Mnist.Core.Training;
using Mnist.Experiments;

namespace Mnist.Web;

/// <summary>
/// Runs dashboard training jobs one at a time (two cores do not train two networks well) on a
/// thread of their own, so predictions keep being answered. A job is a registry run of the
/// "dashboard" sweep, trained by the experiments Runner like any sweep run: it has a run id (the
/// hash of its spec), checkpoints in results/.partial/&lt;id&gt;/, and is filed in
/// results/dashboard/&lt;id&gt;/ with its report before the registry calls it complete. Asking again
/// for a run that is complete trains nothing and offers that run's model; an interrupted run (of
/// any sweep) is resumed from its last checkpoint.
/// </summary>
public sealed class TrainingJobs(ServeOptions options, ResultsRegistry registry, ILogger<TrainingJobs> logger)
{
    /// <summary>The sweep dashboard runs are filed under.</summary>
    public const string Sweep = "dashboard";

    private const string SweepDescription = "Runs started from the web dashboard, one per distinct request.";

    private readonly ConcurrentDictionary<string, TrainingJob> _jobs = new();
    private readonly Lock _gate = new();
    private TrainingJob? _running;

    public IReadOnlyList<JobSnapshot> All() => [.. _jobs.Values.Select(j => j.Snapshot()).OrderByDescending(j => j.StartedAt)];

    public TrainingJob? Find(string id) => _jobs.GetValueOrDefault(id);

    /// <summary>The experiment run a request describes (its spec normalized, its id); a bad setting is a 400 naming it.</summary>
    public static SweepRun Describe(TrainRequest request, string device = DeviceName.Cpu)
    {
        try
        {
            if (request.Epochs > 100) throw new MnistException($"at most 100 epochs from the dashboard, got {request.Epochs}");
            // The form sets the schedule and sizes; the training tricks are the preset's recipe's.
            var recipe = ExperimentSpecModule.defaultsFor(request.Preset ?? "");
            var spec = new ExperimentSpec(
                dataset: ExperimentSpecModule.Mnist,
                preset: request.Preset,
                width: request.Width,
                activation: request.Activation,
                optimizer: new OptimizerConfig(request.Optimizer),
                learningRate: request.LearningRate,
                schedule: new ScheduleConfig(request.Schedule),
                batchSize: request.BatchSize,
                epochs: request.Epochs,
                seed: request.Seed,
                limit: request.Limit is int limit ? FSharpOption<int>.Some(limit) : FSharpOption<int>.None,
                validation: request.Validation,
                patience: FSharpOption<int>.None,
                device: FSharpOption<string>.Some(device),
                augmentation: recipe.Augmentation,
                labelSmoothing: recipe.LabelSmoothing,
                ema: recipe.Ema,
                testTimeAugmentation: recipe.TestTimeAugmentation);
            return SingleRun.plan(spec);
        }
        catch (MnistException e)
        {
            throw ApiException.BadRequest(ApiErrorCode.BadSpec, e.Message);
        }
    }

    public TrainingJob Start(TrainRequest request) => Launch(request, Describe(request, options.Device), resuming: null);

    /// <summary>Continues an interrupted registry run from its last checkpoint; a run that is not interrupted is a 409.</summary>
    public TrainingJob Resume(RunRow row)
    {
        var state = registry.OpenForRequest().StateOf(row);
        if (state.IsRunning)
            throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.Busy, $"run {row.Id} is being trained now");
        var plan = SingleRun.planResume(row);
        if (plan.IsError) throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.NotResumable, plan.ErrorValue);
        var spec = row.Spec;
        // What the jobs table shows; the run itself is trained from its recorded spec.
        var request = new TrainRequest
        {
            Preset = spec.Preset, Width = spec.Width, Activation = spec.Activation, Optimizer = spec.Optimizer.Name,
            Schedule = spec.Schedule.Name, LearningRate = spec.LearningRate, BatchSize = spec.BatchSize, Epochs = spec.Epochs,
            Seed = spec.Seed, Limit = OptionModule.ToNullable(spec.Limit), Validation = spec.Validation,
        };
        return Launch(request, plan.ResultValue, resuming: row);
    }

    private TrainingJob Launch(TrainRequest request, SweepRun run, RunRow? resuming)
    {
        TrainingJob job;
        lock (_gate)
        {
            if (_running is { IsOver: false } busy)
                throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.Busy, $"job {busy.Id} is still training; wait for it or cancel it");
            job = new TrainingJob(DateTime.UtcNow.ToString("yyyyMMdd-HHmmss") + "-" + Guid.NewGuid().ToString("N")[..6], request, run.Id);
            _jobs[job.Id] = job;
            _running = job;
        }
        var thread = new Thread(() => Run(job, run, resuming)) { IsBackground = true, Name = "training " + job.Id };
        thread.Start();
        return job;
    }

    private void Run(TrainingJob job, SweepRun run, RunRow? resuming)
    {
        try
        {
            var clock = Stopwatch.StartNew();
            long lastSent = 0;
            var observer = new TrainingCallbacks
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
            };
            var runner = SingleRun.options(options.ResultsDir, registry.Location, options.DataDir, job.Log, observer, job.Cancellation.Token);
            var open = registry.Open();
            if (SingleRun.tryComplete(runner, open, run.Id) is null)
            {
                // Loaded here (once per process) so the page can say so; the Runner finds it cached.
                job.SetStatus(TrainingJob.States.LoadingData);
                Runner.loadDataset(runner, run.Spec.Dataset);
                job.Cancellation.Token.ThrowIfCancellationRequested();
                job.SetStatus(TrainingJob.States.Training);
            }
            var outcome = resuming is null
                ? SingleRun.run(runner, open, Sweep, SweepDescription, run, job.Log)
                : SingleRun.resume(runner, open, resuming, run, job.Log);
            switch (outcome)
            {
                case { IsTrained: true } or { IsAlreadyDone: true } or { IsAdopted: true }:
                    var row = SingleRun.tryComplete(runner, open, run.Id)?.Value
                        ?? throw new InvalidOperationException($"run {run.Id} is not complete in the registry after {outcome}");
                    string? note = outcome.IsTrained ? null : $"run {run.Id} was already complete: nothing was trained";
                    if (note is not null) job.Log(note);
                    var reportUrl = ResultsFiles.Find(options.ResultsDir, row.Folder + "/" + Layout.ReportFile) is null
                        ? null : "/results/" + row.Folder + "/" + Layout.ReportFile;
                    var modelPath = Path.GetFullPath(Path.Combine(options.ResultsDir, row.Folder, DefaultModel.ModelFileName));
                    job.Finish(TrainingJob.States.Finished, row.TestAccuracyOrNull, modelPath, reportUrl: reportUrl, note: note);
                    break;
                case { IsBusy: true }:
                    job.Finish(TrainingJob.States.Failed, error: $"run {run.Id} is being trained by another process");
                    break;
                case RunOutcome.Failed failed:
                    job.Finish(TrainingJob.States.Failed, error: failed.Item);
                    break;
            }
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
