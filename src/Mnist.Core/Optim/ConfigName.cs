using System.Globalization;

namespace Mnist.Core.Optim;

/// <summary>Name handling shared by the optimizer and schedule configs.</summary>
internal static class ConfigName
{
    /// <summary>Lower case without separators, so "AdamW", "adam-w" and "one_cycle" all match.</summary>
    public static string Canonical(string? name) =>
        (name ?? "").Trim().ToLowerInvariant().Replace("-", "").Replace("_", "").Replace(" ", "");

    /// <summary>"name(setting=value, ...)" over the settings that are given.</summary>
    public static string Describe(string name, params (string Setting, float? Value)[] settings)
    {
        var given = settings.Where(s => s.Value is not null)
                            .Select(s => $"{s.Setting}={s.Value!.Value.ToString(CultureInfo.InvariantCulture)}");
        return $"{name}({string.Join(", ", given)})";
    }
}
