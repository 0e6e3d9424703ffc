using System.Collections.Concurrent;
using System.Reflection;

namespace Mnist.Core.Backends;

/// <summary>
/// Device names to backends: "cpu" is built in; the other kinds come from providers
/// (<see cref="IBackendProvider"/>). A backend, once opened, is kept and shared, and asking for a
/// kind without an index gives the device of that kind already in use (so `--device cuda:1` on a
/// sweep carries over to the runs, whose specs record only "cuda").
/// </summary>
public static class Devices
{
    /// <summary>Assemblies looked for (by name, beside the program) that may supply providers.</summary>
    public static IReadOnlyList<string> ProviderAssemblies { get; } = ["Mnist.Gpu"];

    private static readonly Lock Gate = new();
    private static readonly List<IBackendProvider> Registered = [];
    private static List<IBackendProvider>? _discovered;
    private static readonly ConcurrentDictionary<string, Backend> Open = new();

    /// <summary>Adds a provider (the GPU project's, or a test's) ahead of those discovered.</summary>
    public static void Register(IBackendProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        lock (Gate) Registered.Insert(0, provider);
    }

    /// <summary>The backend for a device name (see <see cref="DeviceName.Parse"/>); a user error when it cannot be had.</summary>
    public static Backend Get(string device) => Get(DeviceName.Parse(device));

    public static Backend Get(DeviceName device)
    {
        if (device.IsCpu) return Backend.Cpu;
        if (device.Index is null && Open.Values.FirstOrDefault(b => b.Kind == device.Kind) is { } inUse) return inUse;
        var provider = ProviderFor(device.Kind);
        lock (Gate)
        {
            if (Open.TryGetValue(device.ToString(), out var known)) return known;
            var backend = provider.Open(device);
            Open[device.ToString()] = backend;
            return backend;
        }
    }

    /// <summary>Every device present: the CPU first, then each provider's.</summary>
    public static IEnumerable<DeviceInfo> List()
    {
        yield return Backend.Cpu.Describe();
        foreach (var provider in Providers())
            foreach (var device in provider.List()) yield return device;
    }

    /// <summary>The device kinds some provider (or the CPU) serves in this build.</summary>
    public static IEnumerable<string> AvailableKinds() =>
        new[] { DeviceName.Cpu }.Concat(Providers().SelectMany(p => p.Kinds)).Distinct();

    private static IBackendProvider ProviderFor(string kind) =>
        Providers().FirstOrDefault(p => p.Kinds.Contains(kind))
        ?? throw new MnistException(
            $"device '{kind}' needs the GPU backend ({string.Join(", ", ProviderAssemblies)}), which this build does not include; use --device cpu");

    private static List<IBackendProvider> Providers()
    {
        lock (Gate)
        {
            _discovered ??= Discover();
            return [.. Registered, .. _discovered];
        }
    }

    /// <summary>Providers named by [BackendProvider] in the provider assemblies that are there.</summary>
    private static List<IBackendProvider> Discover()
    {
        var found = new List<IBackendProvider>();
        foreach (var name in ProviderAssemblies)
        {
            Assembly assembly;
            try
            {
                assembly = Assembly.Load(new AssemblyName(name));
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                continue;
            }
            foreach (var attribute in assembly.GetCustomAttributes<BackendProviderAttribute>())
                found.Add((IBackendProvider)Activator.CreateInstance(attribute.ProviderType)!);
        }
        return found;
    }
}
