using Mnist.Core.Augmentation;
using Mnist.Core.Optim;

namespace Mnist.Core.Training;

/// <summary>
/// The training defaults each model preset carries: what `mnist train --preset p` does with no
/// other option, and what a sweep spec naming the preset starts from. Every preset but "best"
/// trains with <see cref="TrainingDefaults"/>, unchanged.
/// </summary>
public static class Recipes
{
    /// <summary>
    /// The "best" recipe (README "The best recipe"): SGD with Nesterov momentum and L2 5e-4 on a
    /// one-cycle schedule sized to the run, the standard affine augmentation, label smoothing and an
    /// average of the weights. Its values follow the published Kaggle MNIST recipes, checked so far
    /// only by short validation runs (BENCHMARKS.md); experiments/best-tune.json is the sweep that tunes it.
    /// </summary>
    public static TrainingSpec Best { get; } = new()
    {
        Epochs = 20,
        BatchSize = 64,
        LearningRate = 0.1f,
        Optimizer = new OptimizerConfig("nesterov", L2: 5e-4f),
        Schedule = new ScheduleConfig("onecycle"),
        Augmentation = AugmentationSpec.Standard,
        LabelSmoothing = 0.1f,
        Ema = 0.999f,
    };

    /// <summary>The recipe of a preset (case-insensitive); the engine's defaults for any other name.</summary>
    public static TrainingSpec For(string? preset) =>
        (preset ?? "").Trim().ToLowerInvariant() switch
        {
            "best" => Best,
            _ => new TrainingSpec(),
        };
}
