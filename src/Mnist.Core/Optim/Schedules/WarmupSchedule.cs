namespace Mnist.Core.Optim;

/// <summary>
/// A linear warm-up of <see cref="WarmupSteps"/> steps in front of another schedule: step s &lt; W
/// gets inner(0)·(s+1)/(W+1), so the ramp climbs evenly and meets the inner schedule's first rate
/// at step W, from where the inner schedule runs (shifted by W steps) for its own length.
/// </summary>
public sealed class WarmupSchedule : LearningRateSchedule
{
    public WarmupSchedule(long warmupSteps, LearningRateSchedule inner) : base(warmupSteps + inner.TotalSteps)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "must be non-negative");
        WarmupSteps = warmupSteps;
        Inner = inner;
    }

    public long WarmupSteps { get; }

    public LearningRateSchedule Inner { get; }

    public override float Rate(long step) =>
        step < WarmupSteps
            ? (float)((double)Inner.Rate(0) * (Math.Max(step, 0) + 1) / (WarmupSteps + 1))
            : Inner.Rate(step - WarmupSteps);

    public override float? Momentum(long step) => Inner.Momentum(Math.Max(step - WarmupSteps, 0));

    public override string ToString() => $"warmup({WarmupSteps} steps) then {Inner}";
}
