namespace Mnist.Core.GradCheck;

/// <summary>One gradient check: a fresh layer or model with seeded inputs, checked when run.</summary>
/// <param name="Tensors">When set, the report must cover exactly this many tensors (parameters and input).</param>
public sealed record GradCheckCase(string Name, string Group, Func<GradCheckReport> Run, int? Tensors = null)
{
    /// <summary>The report passes and covers the tensors the case expects.</summary>
    public bool Accepts(GradCheckReport report) =>
        report.Passed && (Tensors is null || report.Results.Count == Tensors);

    /// <summary>Why <see cref="Accepts"/> is false, in words (empty when it is true).</summary>
    public string Complaint(GradCheckReport report) =>
        !report.Passed ? "gradient check failed:\n" + report.Report
        : Tensors is int n && report.Results.Count != n ? $"checked {report.Results.Count} tensors, expected {n}:\n" + report.Report
        : "";

    /// <summary>Case-insensitive substring match on the group or the name.</summary>
    public bool Matches(string? filter) =>
        string.IsNullOrEmpty(filter)
        || Name.Contains(filter, StringComparison.OrdinalIgnoreCase)
        || Group.Contains(filter, StringComparison.OrdinalIgnoreCase);
}

/// <summary>A case as it ran: its report, or the exception it threw instead.</summary>
public sealed record GradCheckOutcome(GradCheckCase Case, GradCheckReport? Report, Exception? Error, TimeSpan Elapsed)
{
    public bool Passed => Report is not null && Case.Accepts(Report);
}
