namespace Mnist.Core.Optim;

/// <summary>
/// PyTorch's OneCycleLR (two phases, cosine annealing). The rate climbs from peak/divFactor to the
/// peak at step pctStart·totalSteps − 1, then falls to peak/(divFactor·finalDivFactor) at the
/// last step. With momentum cycling, the momentum moves the other way: maxMomentum →
/// baseMomentum → maxMomentum.
/// </summary>
public sealed class OneCycleSchedule : LearningRateSchedule
{
    private readonly double _initial, _final, _peakStep, _lastStep;

    public OneCycleSchedule(float peak, long totalSteps, float pctStart = 0.3f, float divFactor = 25, float finalDivFactor = 1e4f,
                            (float Base, float Max)? momentumRange = null)
        : base(totalSteps)
    {
        CheckRate(peak, nameof(peak));
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "must be in (0, 1)");
        if (!(divFactor >= 1 && float.IsFinite(divFactor))) throw new ArgumentOutOfRangeException(nameof(divFactor), divFactor, "must be at least 1");
        if (!(finalDivFactor >= 1 && float.IsFinite(finalDivFactor)))
            throw new ArgumentOutOfRangeException(nameof(finalDivFactor), finalDivFactor, "must be at least 1");
        if (momentumRange is var (lo, hi) && !(lo >= 0 && lo <= hi && hi < 1))
            throw new ArgumentOutOfRangeException(nameof(momentumRange), momentumRange, "need 0 <= base <= max < 1");
        Peak = peak;
        PctStart = pctStart;
        DivFactor = divFactor;
        FinalDivFactor = finalDivFactor;
        MomentumRange = momentumRange;
        _initial = (double)peak / divFactor;
        _final = _initial / finalDivFactor;
        // PyTorch: end_step of phase 1 is float(pct_start * total_steps) - 1, of phase 2 total_steps - 1.
        _peakStep = (double)pctStart * totalSteps - 1;
        _lastStep = totalSteps - 1;
    }

    public float Peak { get; }
    public float PctStart { get; }
    public float DivFactor { get; }
    public float FinalDivFactor { get; }

    /// <summary>(base, max) momentum when the schedule cycles it, else null.</summary>
    public (float Base, float Max)? MomentumRange { get; }

    public override float Rate(long step) => (float)Anneal(step, _initial, Peak, _final);

    public override float? Momentum(long step) =>
        MomentumRange is var (lo, hi) ? (float)Anneal(step, hi, lo, hi) : null;

    /// <summary>Phase 1 goes start → middle, phase 2 middle → end (PyTorch's step loop).</summary>
    private double Anneal(long step, double start, double middle, double end)
    {
        double s = Math.Clamp(step, 0, (long)_lastStep);
        if (s <= _peakStep)
            return _peakStep <= 0 ? middle : CosineAnneal(start, middle, s / _peakStep);
        return CosineAnneal(middle, end, (s - _peakStep) / (_lastStep - _peakStep));
    }

    public override string ToString() =>
        $"onecycle(peak {Peak}, {TotalSteps} steps, pctStart {PctStart}, div {DivFactor}, finalDiv {FinalDivFactor}" +
        (MomentumRange is var (lo, hi) ? $", momentum {hi}→{lo}→{hi})" : ")");
}
