namespace Mnist.Core.Optim;

/// <summary>
/// The learning rate for each optimizer step of a run whose length is known up front, so every
/// schedule stretches to the number of epochs. Steps are counted from 0; past the last step a
/// schedule holds its final value.
/// </summary>
public abstract class LearningRateSchedule
{
    protected LearningRateSchedule(long totalSteps)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "must be at least 1");
        TotalSteps = totalSteps;
    }

    /// <summary>Number of steps the schedule was sized for.</summary>
    public long TotalSteps { get; }

    /// <summary>Learning rate for step <paramref name="step"/> (0-based).</summary>
    public abstract float Rate(long step);

    /// <summary>
    /// Momentum (or Adam's beta1) for the step when the schedule drives it (one-cycle does, as
    /// PyTorch's OneCycleLR), else null.
    /// </summary>
    public virtual float? Momentum(long step) => null;

    protected static void CheckRate(float rate, string name)
    {
        if (!float.IsFinite(rate) || rate < 0) throw new ArgumentOutOfRangeException(name, rate, "must be finite and non-negative");
    }

    /// <summary>Cosine interpolation from <paramref name="start"/> (pct 0) to <paramref name="end"/> (pct 1).</summary>
    protected static double CosineAnneal(double start, double end, double pct) =>
        end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);
}

/// <summary>The same rate for every step.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    public ConstantSchedule(float rate, long totalSteps) : base(totalSteps)
    {
        CheckRate(rate, nameof(rate));
        Peak = rate;
    }

    public float Peak { get; }

    public override float Rate(long step) => Peak;

    public override string ToString() => $"constant({Peak})";
}
