namespace Mnist.Core.Backends.Cpu;

/// <summary>The CPU backend's storage: a host array.</summary>
internal sealed class CpuBuffer<T>(T[] array) : DeviceBuffer(CpuBackend.Instance, array.Length) where T : unmanaged
{
    public T[] Array { get; } = array;
}
