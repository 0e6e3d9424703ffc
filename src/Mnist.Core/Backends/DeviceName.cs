using System.Globalization;

namespace Mnist.Core.Backends;

/// <summary>
/// A device as the command line names it: "cpu", "cuda", "cuda:N" or "ilgpu-cpu". The kind is
/// what a run's spec records; the index picks one of several GPUs and never changes a number.
/// </summary>
public readonly record struct DeviceName(string Kind, int? Index = null)
{
    public const string Cpu = "cpu";
    public const string Cuda = "cuda";
    public const string IlgpuCpu = "ilgpu-cpu";

    /// <summary>The kinds there are; the CPU is built in, the others come from a backend provider.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [Cpu, Cuda, IlgpuCpu];

    /// <summary>How to write one, for messages.</summary>
    public const string Forms = "cpu, cuda, cuda:N, ilgpu-cpu";

    /// <summary>Parses a device name (case-insensitive); a user error naming the valid forms otherwise.</summary>
    public static DeviceName Parse(string? text)
    {
        string value = (text ?? "").Trim().ToLowerInvariant();
        int colon = value.IndexOf(':');
        string kind = colon < 0 ? value : value[..colon];
        if (kind == Cuda && colon >= 0)
        {
            if (int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                return new DeviceName(Cuda, index);
        }
        else if (colon < 0 && Kinds.Contains(kind)) return new DeviceName(kind);
        throw new MnistException($"unknown device '{text}'; valid devices: {Forms}");
    }

    public bool IsCpu => Kind == Cpu;

    public override string ToString() => Index is int i ? $"{Kind}:{i}" : Kind;
}
