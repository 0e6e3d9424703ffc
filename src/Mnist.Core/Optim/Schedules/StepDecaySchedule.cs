namespace Mnist.Core.Optim;

/// <summary>PyTorch's StepLR: rate = peak · γ^⌊step / stepSize⌋.</summary>
public sealed class StepDecaySchedule : LearningRateSchedule
{
    public StepDecaySchedule(float peak, long stepSize, float gamma, long totalSteps) : base(totalSteps)
    {
        CheckRate(peak, nameof(peak));
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "must be at least 1");
        if (!(gamma > 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "must be in (0, 1]");
        Peak = peak;
        StepSize = stepSize;
        Gamma = gamma;
    }

    public float Peak { get; }

    /// <summary>Steps between two decays.</summary>
    public long StepSize { get; }

    public float Gamma { get; }

    public override float Rate(long step) => (float)(Peak * Math.Pow(Gamma, Math.Max(step, 0) / StepSize));

    public override string ToString() => $"step({Peak}, every {StepSize} steps ×{Gamma})";
}
