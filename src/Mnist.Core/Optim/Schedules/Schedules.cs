using System.Diagnostics;

namespace Mnist.Core.Optim;

/// <summary>Builds a learning-rate schedule sized to a run.</summary>
public static class Schedules
{
    /// <summary>
    /// The schedule <paramref name="config"/> names, peaking at <paramref name="peakRate"/> (the
    /// run's learning rate; one-cycle's max_lr) over <paramref name="totalSteps"/> optimizer steps
    /// of <paramref name="stepsPerEpoch"/> per epoch. Throws <see cref="MnistException"/> for
    /// an unknown name or bad setting.
    /// </summary>
    public static LearningRateSchedule Create(ScheduleConfig config, float peakRate, long totalSteps, int stepsPerEpoch)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.Resolve();
        if (!(peakRate > 0 && float.IsFinite(peakRate)))
            throw new MnistException($"learning rate {peakRate} must be positive and finite");
        if (totalSteps < 1) throw new MnistException($"a schedule needs at least one step (got {totalSteps})");
        if (stepsPerEpoch < 1) throw new MnistException($"steps per epoch must be at least 1 (got {stepsPerEpoch})");

        if (c.Name == "onecycle")
            return new OneCycleSchedule(peakRate, totalSteps, c.PctStart!.Value, c.DivFactor!.Value, c.FinalDivFactor!.Value,
                c.CycleMomentum == true ? (c.BaseMomentum!.Value, c.MaxMomentum!.Value) : null);

        long warmup = (long)Math.Round((double)c.WarmupFraction!.Value * totalSteps);
        long rest = totalSteps - warmup;
        if (rest < 1)
            throw new MnistException($"warm-up of {warmup} steps leaves nothing of the {totalSteps}-step run");
        LearningRateSchedule main = c.Name switch
        {
            "constant" => new ConstantSchedule(peakRate, rest),
            "step" => new StepDecaySchedule(peakRate, StepSize(c.StepEpochs, rest, stepsPerEpoch), c.Gamma!.Value, rest),
            "cosine" => new CosineSchedule(peakRate, peakRate * c.Floor!.Value, rest),
            _ => throw new UnreachableException($"Resolve passed schedule '{c.Name}'"),
        };
        return warmup > 0 ? new WarmupSchedule(warmup, main) : main;
    }

    /// <summary>
    /// Steps between decays: StepEpochs epochs, or by default a third of the run rounded up, so
    /// the run decays exactly twice.
    /// </summary>
    private static long StepSize(float? stepEpochs, long totalSteps, int stepsPerEpoch) =>
        stepEpochs is float k
            ? Math.Max(1, (long)Math.Round((double)k * stepsPerEpoch))
            : Math.Max(1, (totalSteps + 2) / 3);
}
