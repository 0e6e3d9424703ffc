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

    /// <summary>
    /// When a perturbation changes the pieces a piecewise layer selects (a ReLU sign, a max-pool
    /// winner), the step is quartered up to this many times; if a kink is still inside, the
    /// one-sided difference on the clean side is used, and if both sides cross, the element is
    /// skipped. The result counts both.
    /// </summary>
    public int KinkRetries { get; init; } = 2;

    /// <summary>
    /// Richardson extrapolation: combine the central differences at ε and ε/2 as (4·D(ε/2) − D(ε))/3,
    /// cancelling the ε² truncation term. Two more forward passes per element; for smooth models
    /// (sigmoid, tanh, swish, batch norm) where a large ε keeps float32 noise down.
    /// </summary>
    public bool Richardson { get; init; }

    /// <summary>
    /// Judge each tensor by the relative error of its sampled gradient as a whole,
    /// ‖a − n‖ / max(‖a‖, ‖n‖), instead of by its worst element; the worst element is still
    /// reported. For deep float32 networks, where the noise of a long forward pass spoils the
    /// smallest elements while a wrong backward pass spoils the vector.
    /// </summary>
    public bool ByVector { get; init; }

    /// <summary>Seed for the sampled elements and the random output projection.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>The disagreement between analytic and numerical gradients in one tensor.</summary>
/// <param name="Checked">Elements compared (sampled, less those skipped at kinks).</param>
/// <param name="MaxRelativeError">The worst element's relative error.</param>
/// <param name="WorstIndex">Flat index of that element (−1 when none was compared).</param>
/// <param name="VectorRelativeError">‖a − n‖ / max(‖a‖, ‖n‖) over the compared elements.</param>
/// <param name="OneSided">Elements measured by a one-sided difference because of a nearby kink.</param>
/// <param name="Skipped">Elements with kinks on both sides at every step size tried.</param>
public sealed record GradCheckResult(
    string Name, int Checked, int Total, double MaxRelativeError, int WorstIndex,
    double Analytic, double Numeric, double Tolerance,
    double VectorRelativeError = 0, bool ByVector = false, int OneSided = 0, int Skipped = 0)
{
    /// <summary>The error the check is judged by: the worst element's, or the whole vector's.</summary>
    public double Error => ByVector ? VectorRelativeError : MaxRelativeError;

    /// <summary>Needs at least one compared element; false for NaN errors.</summary>
    public bool Passed => Checked > 0 && Error <= Tolerance;

    public string Report
    {
        get
        {
            var c = CultureInfo.InvariantCulture;
            string measure = ByVector
                ? string.Create(c, $"vector rel err {VectorRelativeError:E2} (tol {Tolerance:E0}), worst element {MaxRelativeError:E2}")
                : string.Create(c, $"max rel err {MaxRelativeError:E2} (tol {Tolerance:E0})");
            string kinks = (OneSided > 0 ? $", {OneSided} one-sided" : "") + (Skipped > 0 ? $", {Skipped} skipped at kinks" : "");
            return string.Create(c,
                $"{(Passed ? "ok  " : "FAIL")} {Name}: {measure} at [{WorstIndex}] analytic {Analytic:G6} numeric {Numeric:G6}; {Checked}/{Total} elements{kinks}");
        }
    }

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

    /// <summary>The largest error any tensor is judged by (NaN if any is NaN).</summary>
    public double MaxError
    {
        get
        {
            double max = 0;
            foreach (var r in Results) max = double.IsNaN(r.Error) || double.IsNaN(max) ? double.NaN : Math.Max(max, r.Error);
            return max;
        }
    }

    public string Report => string.Join("\n", Results.Select(r => r.Report));

    public override string ToString() => Report;
}
