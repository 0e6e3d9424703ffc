namespace Mnist.Core.Backends;

/// <summary>
/// Storage a backend allocated: floats for a <see cref="Tensors.Tensor"/>, ints for an
/// <see cref="Tensors.IndexBuffer"/>. Only its backend knows what lies behind it (a host array
/// on the CPU, device memory elsewhere); everyone else reaches its contents through the
/// backend's counted host transfers.
/// </summary>
public abstract class DeviceBuffer(Backend backend, int length)
{
    public Backend Backend { get; } = backend;

    /// <summary>Elements it holds (its capacity; a tensor may use fewer).</summary>
    public int Length { get; } = length;
}
