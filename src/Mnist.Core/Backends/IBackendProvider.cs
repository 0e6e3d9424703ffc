namespace Mnist.Core.Backends;

/// <summary>
/// Supplies backends for device kinds beyond the CPU (the GPU project: "cuda", "ilgpu-cpu")
/// without Mnist.Core referencing it. An assembly names its provider with
/// [assembly: BackendProvider(typeof(...))]; <see cref="Devices"/> finds it by the assembly's name
/// (<see cref="Devices.ProviderAssemblies"/>) or takes it from <see cref="Devices.Register"/>.
/// </summary>
public interface IBackendProvider
{
    /// <summary>The device kinds it serves (from <see cref="DeviceName.Kinds"/>).</summary>
    IReadOnlyList<string> Kinds { get; }

    /// <summary>
    /// The backend for <paramref name="device"/> (one of its kinds; Index null: the first device of
    /// that kind). A device that is not there (no GPU, no driver) is a <see cref="MnistException"/>
    /// whose message is one line naming the problem.
    /// </summary>
    Backend Open(DeviceName device);

    /// <summary>The devices of its kinds present on this machine (none when there is no GPU).</summary>
    IEnumerable<DeviceInfo> List();
}

/// <summary>Names the <see cref="IBackendProvider"/> an assembly supplies (a class with a parameterless constructor).</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class BackendProviderAttribute(Type providerType) : Attribute
{
    public Type ProviderType { get; } = providerType;
}
