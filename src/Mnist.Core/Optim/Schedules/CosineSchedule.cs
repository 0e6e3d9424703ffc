namespace Mnist.Core.Optim;

/// <summary>
/// PyTorch's CosineAnnealingLR with T_max = totalSteps:
/// rate = floor + (peak − floor)·(1 + cos(π·step/totalSteps))/2, reaching the floor after the last step.
/// </summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    public CosineSchedule(float peak, float floor, long totalSteps) : base(totalSteps)
    {
        CheckRate(peak, nameof(peak));
        CheckRate(floor, nameof(floor));
        if (floor > peak) throw new ArgumentOutOfRangeException(nameof(floor), floor, "must not exceed the peak");
        Peak = peak;
        Floor = floor;
    }

    public float Peak { get; }

    public float Floor { get; }

    public override float Rate(long step)
    {
        double t = Math.Clamp(step, 0, TotalSteps);
        return (float)CosineAnneal(Peak, Floor, t / TotalSteps);
    }

    public override string ToString() => $"cosine({Peak} → {Floor} over {TotalSteps} steps)";
}
