using System.Text.Json;
using System.Text.Json.Serialization;
using Mnist.Core.Augmentation;
using Mnist.Core.Backends;
using Mnist.Core.Optim;
using TestTimeViews = Mnist.Core.Augmentation.TestTimeAugmentation;

namespace Mnist.Core.Training;

/// <summary>
/// How a network is trained, as data: with the model config and the data set it fully describes
/// a run, and the same spec and seed give the same numbers on the same machine. The defaults are
/// <see cref="TrainingDefaults"/>.
/// </summary>
public sealed record TrainingSpec
{
    public int Epochs { get; init; } = TrainingDefaults.Epochs;
    public int BatchSize { get; init; } = TrainingDefaults.BatchSize;
    /// <summary>The peak learning rate (the constant one for a constant schedule).</summary>
    public float LearningRate { get; init; } = TrainingDefaults.LearningRate;
    public ulong Seed { get; init; } = TrainingDefaults.Seed;
    public OptimizerConfig Optimizer { get; init; } = new(TrainingDefaults.Optimizer);
    public ScheduleConfig Schedule { get; init; } = new(TrainingDefaults.Schedule);
    /// <summary>Samples held out from the end of the training set for validation (0: none).</summary>
    public int ValidationCount { get; init; } = TrainingDefaults.Validation;
    /// <summary>Train on the first N training samples only (quick runs, tests).</summary>
    public int? Limit { get; init; }
    /// <summary>Stop after this many epochs without a better validation accuracy (needs validation).</summary>
    public int? Patience { get; init; }
    /// <summary>Evaluate on the first N test images only (quick runs on any device).</summary>
    public int? TestLimit { get; init; }
    /// <summary>
    /// The device kind the run trains on ("cuda", "ilgpu-cpu"); null for the CPU, so a CPU spec
    /// reads and hashes as it always did. Another kind computes other numbers, so it is part of the spec.
    /// </summary>
    public string? Device { get; init; }

    // The training tricks below are off by default and then left out of the JSON, so a spec
    // without them reads and hashes as it did before they existed.

    /// <summary>How training images are distorted on the fly (null, or all ranges 0: not at all).</summary>
    public AugmentationSpec? Augmentation { get; init; }

    /// <summary>Label smoothing ε of the training loss, in [0, 1) (0: none); evaluation losses are never smoothed.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float LabelSmoothing { get; init; }

    /// <summary>
    /// Decay of the exponential moving average of the weights and batch-norm statistics, in (0, 1)
    /// (null: none). The average is what is evaluated, checkpointed and saved as the model
    /// (see <see cref="WeightAverage"/>).
    /// </summary>
    public float? Ema { get; init; }

    /// <summary>
    /// The test-time augmentation of every evaluation, a name of <see cref="TestTimeViews.Names"/>
    /// (null: none): probabilities averaged over a few fixed shifts of each image.
    /// </summary>
    public string? TestTimeAugmentation { get; init; }

    /// <summary>The augmentation the training batches get (<see cref="AugmentationSpec.None"/> when null).</summary>
    [JsonIgnore]
    public AugmentationSpec AugmentationOrNone => Augmentation ?? AugmentationSpec.None;

    /// <summary>The views every evaluation averages over (the image alone when null).</summary>
    [JsonIgnore]
    public TestTimeViews Views => TestTimeViews.Named(TestTimeAugmentation);

    /// <summary>The device kind, "cpu" included.</summary>
    [JsonIgnore]
    public string DeviceKind => Device ?? DeviceName.Cpu;

    /// <summary>What <see cref="Device"/> records for a run on <paramref name="backend"/>: its kind, null for the CPU.</summary>
    public static string? DeviceOf(Backend backend) => backend.Kind == DeviceName.Cpu ? null : backend.Kind;

    /// <summary>Throws <see cref="MnistException"/> naming the first setting out of range.</summary>
    public TrainingSpec Validate()
    {
        if (Epochs < 1) throw new MnistException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new MnistException($"batch size must be at least 1, got {BatchSize}");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate))
            throw new MnistException($"learning rate must be a positive number, got {LearningRate}");
        if (ValidationCount < 0) throw new MnistException($"validation size cannot be negative, got {ValidationCount}");
        if (Limit is < 1) throw new MnistException($"limit must be at least 1, got {Limit}");
        if (Patience is < 1) throw new MnistException($"patience must be at least 1, got {Patience}");
        if (Patience is not null && ValidationCount == 0)
            throw new MnistException("early stopping needs a validation set: give a validation size too");
        if (TestLimit is < 1) throw new MnistException($"test limit must be at least 1, got {TestLimit}");
        if (Device is not null && DeviceName.Parse(Device) is { IsCpu: true } or { Index: not null })
            throw new MnistException($"a training spec records a device kind other than the CPU (cuda, ilgpu-cpu), not '{Device}'");
        Augmentation?.Validate();
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
            throw new MnistException($"label smoothing must be in [0, 1), got {LabelSmoothing}");
        if (Ema is float decay && !(decay > 0 && decay < 1))
            throw new MnistException($"the weight average's decay (ema) must be between 0 and 1, got {decay}");
        _ = Views;
        Optimizer.Resolve();
        Schedule.Resolve();
        return this;
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingSpec FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingSpec>(json, Json) ?? throw new MnistException("empty training spec");
        }
        catch (JsonException e)
        {
            throw new MnistException($"invalid training spec: {e.Message}", e);
        }
    }
}
