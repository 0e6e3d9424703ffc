using System.Globalization;

namespace Mnist.Core.GradCheck;

/// <summary>Settings of a gradient check.</summary>
public sealed record GradCheckOptions
{
    /// <summary>Central-difference step, absolute (the step actually taken is the float32 one).</summary>
    public double Epsilon { get; init; } = 1e-2;

    /// <summary>Largest relative error that passes.</summary>
    public double Tolerance { get; init; } = 1e-2;

    /// <summary>
    /// Errors are relative to max(|analytic|, |numeric|, FloorFraction · the tensor's largest
    /// |analytic|): an element whose gradient is far below the tensor's scale is judged against
    /// that scale, since float32 rounding in the forward pass is noise of about that absolute size.
    /// </summary>
    public double FloorFraction { get; init; } = 1e-2;

    /// <summary>Tensors longer than this are checked on a deterministic sample of this many elements.</summary>
    public int MaxSamples { get; init; } = 48;

    /// <summary>Seed for the sampled elements and the random output projection.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>The worst disagreement between analytic and numerical gradients in one tensor.</summary>
public sealed record GradCheckResult(
    string Name, int Checked, int Total, double MaxRelativeError, int WorstIndex,
    double Analytic, double Numeric, double Tolerance)
{
    public bool Passed => MaxRelativeError <= Tolerance;

    public string Report => string.Create(CultureInfo.InvariantCulture,
        $"{(Passed ? "ok  " : "FAIL")} {Name}: max rel err {MaxRelativeError:E2} (tol {Tolerance:E0}) at [{WorstIndex}] analytic {Analytic:G6} numeric {Numeric:G6}; {Checked}/{Total} elements");

    public override string ToString() => Report;
}

/// <summary>The results for every tensor a check covered.</summary>
public sealed record GradCheckReport(IReadOnlyList<GradCheckResult> Results)
{
    public bool Passed
    {
        get
        {
            foreach (var r in Results) if (!r.Passed) return false;
            return Results.Count > 0;
        }
    }

    public double MaxRelativeError
    {
        get
        {
            double max = 0;
            foreach (var r in Results) max = double.IsNaN(r.MaxRelativeError) ? double.NaN : Math.Max(max, r.MaxRelativeError);
            return max;
        }
    }

    public string Report => string.Join("\n", Results.Select(r => r.Report));

    public override string ToString() => Report;
}
