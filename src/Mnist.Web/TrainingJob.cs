using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Threading.Channels;
using Mnist.Core.Training;

namespace Mnist.Web;

/// <summary>What a dashboard user asks for: the same knobs as `mnist train`.</summary>
public sealed record TrainRequest
{
    public string Preset { get; init; } = TrainingDefaults.Preset;
    public double Width { get; init; } = TrainingDefaults.Width;
    public string Activation { get; init; } = TrainingDefaults.Activation;
    public string Optimizer { get; init; } = TrainingDefaults.Optimizer;
    public string Schedule { get; init; } = TrainingDefaults.Schedule;
    public float LearningRate { get; init; } = TrainingDefaults.LearningRate;
    public int BatchSize { get; init; } = TrainingDefaults.BatchSize;
    public int Epochs { get; init; } = TrainingDefaults.Epochs;
    public ulong Seed { get; init; } = TrainingDefaults.Seed;
    /// <summary>Train on the first N images only (a quick look).</summary>
    public int? Limit { get; init; }
    public int Validation { get; init; } = TrainingDefaults.Validation;
}

/// <summary>A job's state as the dashboard shows it.</summary>
/// <param name="RunId">The registry run the job trains (or found complete): a hash of its spec.</param>
/// <param name="ReportUrl">The run's report, once the run is complete.</param>
/// <param name="Note">What happened besides training, like "already complete".</param>
public sealed record JobSnapshot(
    string Id, string Status, TrainRequest Request, string StartedAt, string? FinishedAt, double? TestAccuracy,
    string? ModelPath, string? Error, IReadOnlyList<EpochMetrics> Epochs, JobProgress? Progress,
    string RunId, string? ReportUrl, string? Note);

/// <summary>Progress inside an epoch (sent at most five times a second).</summary>
public sealed record JobProgress(int Epoch, int Epochs, int Samples, int EpochSamples, double Loss, double Accuracy,
    double ImagesPerSecond, double EtaSeconds);

/// <summary>
/// One training run started from the dashboard (registry run <c>runId</c> of the dashboard sweep), and the server-sent events that follow it. Every
/// event but progress is kept, so a page opened late replays the story so far; progress is
/// replayed only as its latest value. A slow reader loses old events rather than growing memory.
/// </summary>
public sealed class TrainingJob(string id, TrainRequest request, string runId)
{
    public static class States
    {
        public const string Queued = "queued", LoadingData = "loading data", Training = "training",
            Finished = "finished", Failed = "failed", Cancelled = "cancelled";
    }

    private readonly Lock _gate = new();
    private readonly List<SseItem<string>> _history = [];
    private readonly List<Channel<SseItem<string>>> _readers = [];
    private readonly List<EpochMetrics> _epochs = [];
    private SseItem<string>? _lastProgress;
    private JobProgress? _progress;
    private string _status = States.Queued;
    private string? _finishedAt, _modelPath, _error, _reportUrl, _note;
    private double? _testAccuracy;

    public string Id { get; } = id;
    public TrainRequest Request { get; } = request;
    public string RunId { get; } = runId;
    public string StartedAt { get; } = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
    public CancellationTokenSource Cancellation { get; } = new();

    public bool IsOver { get { lock (_gate) return _status is States.Finished or States.Failed or States.Cancelled; } }

    public string? ModelPath { get { lock (_gate) return _modelPath; } }

    public JobSnapshot Snapshot()
    {
        lock (_gate)
            return new JobSnapshot(Id, _status, Request, StartedAt, _finishedAt, _testAccuracy, _modelPath, _error, [.. _epochs], _progress,
                RunId, _reportUrl, _note);
    }

    public void SetStatus(string status) => Publish("status", new { status }, () => _status = status);

    public void Progress(JobProgress progress) => Publish("progress", progress, () => _progress = progress, keep: false);

    public void Epoch(EpochMetrics metrics) => Publish("epoch", metrics, () => _epochs.Add(metrics));

    public void Log(string line) => Publish("log", new { line }, null);

    public void Finish(string status, double? testAccuracy = null, string? modelPath = null, string? error = null,
        string? reportUrl = null, string? note = null) =>
        Publish("done", new { status, testAccuracy, modelPath, error, runId = RunId, reportUrl, note }, () =>
        {
            (_status, _testAccuracy, _modelPath, _error, _reportUrl, _note) = (status, testAccuracy, modelPath, error, reportUrl, note);
            _finishedAt = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        }, end: true);

    private void Publish(string type, object data, Action? update, bool keep = true, bool end = false)
    {
        var item = new SseItem<string>(JsonSerializer.Serialize(data, WebJson.Options), type);
        lock (_gate)
        {
            update?.Invoke();
            if (keep) _history.Add(item);
            else _lastProgress = item;
            foreach (var reader in _readers)
            {
                reader.Writer.TryWrite(item);
                if (end) reader.Writer.TryComplete();
            }
        }
    }

    /// <summary>The events so far, then each new one as it happens, until the job ends or the reader leaves.</summary>
    public async IAsyncEnumerable<SseItem<string>> Follow([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        var channel = Channel.CreateBounded<SseItem<string>>(new BoundedChannelOptions(512)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            // The snapshot first (status, epochs so far), then live events.
            foreach (var item in _history.Where(i => i.EventType != "done")) channel.Writer.TryWrite(item);
            if (_lastProgress is { } progress) channel.Writer.TryWrite(progress);
            foreach (var item in _history.Where(i => i.EventType == "done")) channel.Writer.TryWrite(item);
            if (_status is States.Finished or States.Failed or States.Cancelled) channel.Writer.TryComplete();
            else _readers.Add(channel);
        }
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(cancel)) yield return item;
        }
        finally
        {
            lock (_gate) _readers.Remove(channel);
        }
    }
}
