using ILGPU;
using ILGPU.Runtime;
using Mnist.Core.Backends;

namespace Mnist.Gpu;

/// <summary>
/// The GPU backend's storage: one ILGPU buffer in the accelerator's memory (zeroed when allocated).
/// A kernel holds only views of it, not the buffer, so a tensor that is no longer referenced could
/// be finalized while a kernel still reads it (a GPU runs kernels asynchronously): ILGPU's own
/// finalizer is suppressed, and this one frees the memory through the backend, which waits for the
/// device under its lock first.
/// </summary>
internal sealed class GpuBuffer<T> : DeviceBuffer where T : unmanaged
{
    private readonly GpuBackend _owner;

    public GpuBuffer(GpuBackend backend, MemoryBuffer1D<T, Stride1D.Dense> memory) : base(backend, (int)memory.Length)
    {
        _owner = backend;
        Memory = memory;
        GC.SuppressFinalize(memory);
    }

    ~GpuBuffer() => _owner.Release(Memory);

    public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; }

    /// <summary>The first <paramref name="length"/> elements as a kernel argument.</summary>
    public ArrayView<T> View(int length) => ((ArrayView<T>)Memory.View).SubView(0, length);
}
