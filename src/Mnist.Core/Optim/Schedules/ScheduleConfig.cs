using System.Globalization;
using System.Text.Json.Serialization;

namespace Mnist.Core.Optim;

/// <summary>
/// Which learning-rate schedule to use, as plain data (JSON via System.Text.Json; unknown JSON
/// fields are rejected). Everything is relative to the run, so the same config fits any number
/// of epochs. A setting left null takes its default; setting one the schedule does not use is
/// an error.
/// <list type="bullet">
/// <item>constant: the peak rate throughout.</item>
/// <item>step: × Gamma (0.1) every StepEpochs epochs (default: a third of the run, so two decays).</item>
/// <item>cosine: cosine annealing from the peak to Floor × peak (Floor default 0).</item>
/// <item>onecycle: PyTorch's OneCycleLR: PctStart (0.3), DivFactor (25), FinalDivFactor (1e4),
/// CycleMomentum (true: momentum / Adam's beta1 cycles between BaseMomentum 0.85 and MaxMomentum 0.95).</item>
/// </list>
/// WarmupFraction (0) puts a linear warm-up over that fraction of the steps in front of constant,
/// step or cosine (one-cycle has its own).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ScheduleConfig(
    string Name = "constant",
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? WarmupFraction = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? StepEpochs = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Gamma = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Floor = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? PctStart = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? DivFactor = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? FinalDivFactor = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? CycleMomentum = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? BaseMomentum = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? MaxMomentum = null)
{
    /// <summary>The names <see cref="Schedules.Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["constant", "step", "cosine", "onecycle"];

    /// <summary>
    /// The same config with the canonical name and the defaults filled in (StepEpochs stays null
    /// when unset: it depends on the run's length); throws <see cref="MnistException"/> for an
    /// unknown name, a setting the schedule does not use, or a value out of range.
    /// </summary>
    public ScheduleConfig Resolve()
    {
        string name = ConfigName.Canonical(Name);
        if (name == "steplr" || name == "stepdecay") name = "step";
        if (name == "onecyclelr") name = "onecycle";
        if (!Names.Contains(name))
            throw new MnistException($"unknown schedule '{Name}'; valid names: {string.Join(", ", Names)}");

        var used = name switch
        {
            "constant" => new[] { "warmupFraction" },
            "step" => ["warmupFraction", "stepEpochs", "gamma"],
            "cosine" => ["warmupFraction", "floor"],
            _ => ["pctStart", "divFactor", "finalDivFactor", "cycleMomentum", "baseMomentum", "maxMomentum"],
        };
        foreach (var (setting, isSet) in new[]
                 {
                     ("warmupFraction", WarmupFraction is not null), ("stepEpochs", StepEpochs is not null),
                     ("gamma", Gamma is not null), ("floor", Floor is not null), ("pctStart", PctStart is not null),
                     ("divFactor", DivFactor is not null), ("finalDivFactor", FinalDivFactor is not null),
                     ("cycleMomentum", CycleMomentum is not null), ("baseMomentum", BaseMomentum is not null),
                     ("maxMomentum", MaxMomentum is not null),
                 })
        {
            if (isSet && !used.Contains(setting))
                throw new MnistException(name == "onecycle" && setting == "warmupFraction"
                    ? "schedule 'onecycle' has its own warm-up (pctStart); remove warmupFraction"
                    : $"schedule '{name}' has no {setting} setting (it uses: {string.Join(", ", used)})");
        }

        bool one = name == "onecycle";
        bool cycle = one && (CycleMomentum ?? true);
        var r = new ScheduleConfig(name,
            WarmupFraction: one ? null : WarmupFraction ?? 0,
            StepEpochs: StepEpochs,
            Gamma: name == "step" ? Gamma ?? 0.1f : null,
            Floor: name == "cosine" ? Floor ?? 0 : null,
            PctStart: one ? PctStart ?? 0.3f : null,
            DivFactor: one ? DivFactor ?? 25 : null,
            FinalDivFactor: one ? FinalDivFactor ?? 1e4f : null,
            CycleMomentum: one ? cycle : null,
            BaseMomentum: cycle ? BaseMomentum ?? 0.85f : null,
            MaxMomentum: cycle ? MaxMomentum ?? 0.95f : null);
        if (one && !cycle && (BaseMomentum is not null || MaxMomentum is not null))
            throw new MnistException("schedule 'onecycle': baseMomentum/maxMomentum need cycleMomentum = true");
        r.CheckRanges();
        return r;
    }

    /// <summary>Compact form for logs and test names, e.g. "onecycle(pctStart=0.25)".</summary>
    public override string ToString() => ConfigName.Describe(Name,
        ("warmupFraction", WarmupFraction), ("stepEpochs", StepEpochs), ("gamma", Gamma), ("floor", Floor),
        ("pctStart", PctStart), ("divFactor", DivFactor), ("finalDivFactor", FinalDivFactor),
        ("cycleMomentum", CycleMomentum is bool b ? (b ? 1 : 0) : null), ("baseMomentum", BaseMomentum), ("maxMomentum", MaxMomentum));

    private void CheckRanges()
    {
        if (WarmupFraction is float w && !(w >= 0 && w < 1)) Bad("warmupFraction", w, "in [0, 1)");
        if (StepEpochs is float k && !(k > 0 && float.IsFinite(k))) Bad("stepEpochs", k, "positive");
        if (Gamma is float g && !(g > 0 && g <= 1)) Bad("gamma", g, "in (0, 1]");
        if (Floor is float f && !(f >= 0 && f <= 1)) Bad("floor", f, "in [0, 1] (a fraction of the peak rate)");
        if (PctStart is float p && !(p > 0 && p < 1)) Bad("pctStart", p, "in (0, 1)");
        if (DivFactor is float d && !(d >= 1 && float.IsFinite(d))) Bad("divFactor", d, "at least 1");
        if (FinalDivFactor is float fd && !(fd >= 1 && float.IsFinite(fd))) Bad("finalDivFactor", fd, "at least 1");
        if (BaseMomentum is float lo && !(lo >= 0 && lo < 1)) Bad("baseMomentum", lo, "in [0, 1)");
        if (MaxMomentum is float hi && !(hi >= 0 && hi < 1)) Bad("maxMomentum", hi, "in [0, 1)");
        if (BaseMomentum > MaxMomentum) Bad("baseMomentum", BaseMomentum!.Value, "at most maxMomentum");

        void Bad(string setting, float value, string rule) =>
            throw new MnistException($"schedule '{Name}': {setting} {value.ToString(CultureInfo.InvariantCulture)} must be {rule}");
    }
}
