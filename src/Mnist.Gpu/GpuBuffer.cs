using ILGPU;
using ILGPU.Runtime;
using Mnist.Core.Backends;

namespace Mnist.Gpu;

/// <summary>The GPU backend's storage: one ILGPU buffer in the accelerator's memory (zeroed when allocated).</summary>
internal sealed class GpuBuffer<T> : DeviceBuffer where T : unmanaged
{
    public GpuBuffer(GpuBackend backend, MemoryBuffer1D<T, Stride1D.Dense> memory) : base(backend, (int)memory.Length)
    {
        Memory = memory;
    }

    public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; }

    /// <summary>The first <paramref name="length"/> elements as a kernel argument.</summary>
    public ArrayView<T> View(int length) => ((ArrayView<T>)Memory.View).SubView(0, length);
}
