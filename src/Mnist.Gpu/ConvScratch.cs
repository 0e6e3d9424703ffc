using ILGPU;
using ILGPU.Runtime;

namespace Mnist.Gpu;

/// <summary>
/// A convolution layer's device scratch (kept on its Workspace.DeviceState): the batch's column
/// matrix, its gradient, and the [out, N·P] product. Each grows to the largest size asked for and
/// is then reused, so steady-state steps allocate nothing.
/// </summary>
internal sealed class ConvScratch
{
    private readonly GrowingBuffer _cols = new(), _dcols = new(), _product = new();

    public ArrayView<float> Cols(Accelerator a, long length) => _cols.Get(a, length);
    public ArrayView<float> ColumnGradient(Accelerator a, long length) => _dcols.Get(a, length);
    public ArrayView<float> Product(Accelerator a, long length) => _product.Get(a, length);
}

/// <summary>Device scratch that grows to the largest size asked for and is then reused.</summary>
internal sealed class GrowingBuffer
{
    private MemoryBuffer1D<float, Stride1D.Dense>? _buffer;

    /// <summary>The first <paramref name="length"/> floats (contents unspecified).</summary>
    public ArrayView<float> Get(Accelerator a, long length)
    {
        if (_buffer is null || _buffer.Length < length)
        {
            // Launched kernels may still use the old buffer (CUDA runs them asynchronously).
            if (_buffer is not null) a.Synchronize();
            _buffer?.Dispose();
            _buffer = a.Allocate1D<float>(length);
        }
        return ((ArrayView<float>)_buffer.View).SubView(0, length);
    }
}
