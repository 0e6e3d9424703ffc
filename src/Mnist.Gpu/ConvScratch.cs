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
    private MemoryBuffer1D<float, Stride1D.Dense>? _cols, _dcols, _product;

    public ArrayView<float> Cols(Accelerator a, long length) => Grow(a, ref _cols, length);
    public ArrayView<float> ColumnGradient(Accelerator a, long length) => Grow(a, ref _dcols, length);
    public ArrayView<float> Product(Accelerator a, long length) => Grow(a, ref _product, length);

    private static ArrayView<float> Grow(Accelerator a, ref MemoryBuffer1D<float, Stride1D.Dense>? buffer, long length)
    {
        if (buffer is null || buffer.Length < length)
        {
            buffer?.Dispose();
            buffer = a.Allocate1D<float>(length);
        }
        return ((ArrayView<float>)buffer.View).SubView(0, length);
    }
}
