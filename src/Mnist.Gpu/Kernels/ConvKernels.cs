using ILGPU;
using ILGPU.Runtime;
using Mnist.Core.Kernels;

namespace Mnist.Gpu.Kernels;

/// <summary>
/// The data movement around the convolution GEMMs. The batch is unfolded at once into one column
/// matrix cols[C·KH·KW, N·P] (P = OH·OW pixels per image, column n·P + p), so each pass is a single
/// GEMM over the whole batch; outputs in [O, N·P] order are permuted to and from NCHW here.
/// Folding columns back into an image gathers (each input pixel sums its own windows in a fixed
/// order), so no atomics and the result is deterministic.
/// </summary>
internal static class ConvKernels
{
    /// <summary>cols[row, n·P + p] = x[n, c, oy·s − pad + ky, ox·s − pad + kx], zero outside the image.</summary>
    public static void Unfold(Index1D index, ConvGeometry g, int batch, ArrayView<float> x, ArrayView<float> cols)
    {
        int pixels = g.OutH * g.OutW, columns = batch * pixels;
        int row = index / columns, column = index % columns;
        int n = column / pixels, p = column % pixels;
        int kx = row % g.KernelW, ky = row / g.KernelW % g.KernelH, c = row / (g.KernelW * g.KernelH);
        int iy = p / g.OutW * g.Stride - g.Pad + ky, ix = p % g.OutW * g.Stride - g.Pad + kx;
        bool inside = iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width;
        cols[index] = inside ? x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix] : 0f;
    }

    /// <summary>dx[n, c, iy, ix] = Σ over the windows that cover the pixel of dcols (ky, kx ascending).</summary>
    public static void Fold(Index1D index, ConvGeometry g, int batch, ArrayView<float> dcols, ArrayView<float> dx)
    {
        int pixels = g.OutH * g.OutW, columns = batch * pixels;
        int ix = index % g.Width, iy = index / g.Width % g.Height;
        int c = index / (g.Width * g.Height) % g.Channels, n = index / (g.Width * g.Height * g.Channels);
        float sum = 0f;
        for (int ky = 0; ky < g.KernelH; ky++)
        {
            int ty = iy + g.Pad - ky;
            if (ty < 0 || ty % g.Stride != 0 || ty / g.Stride >= g.OutH) continue;
            for (int kx = 0; kx < g.KernelW; kx++)
            {
                int tx = ix + g.Pad - kx;
                if (tx < 0 || tx % g.Stride != 0 || tx / g.Stride >= g.OutW) continue;
                int row = (c * g.KernelH + ky) * g.KernelW + kx;
                sum += dcols[(long)row * columns + n * pixels + ty / g.Stride * g.OutW + tx / g.Stride];
            }
        }
        dx[index] = sum;
    }

    /// <summary>y[n, o, p] = product[o, n·P + p] + bias[o] (GEMM order to NCHW).</summary>
    public static void ToImages(Index1D index, int outChannels, int pixels, int batch, ArrayView<float> product,
        ArrayView<float> bias, ArrayView<float> y)
    {
        int p = index % pixels, o = index / pixels % outChannels, n = index / (pixels * outChannels);
        y[index] = product[(long)o * batch * pixels + n * pixels + p] + bias[o];
    }

    /// <summary>product[o, n·P + p] = dy[n, o, p] (NCHW to GEMM order).</summary>
    public static void FromImages(Index1D index, int outChannels, int pixels, int batch, ArrayView<float> dy,
        ArrayView<float> product)
    {
        int p = index % pixels, o = index / pixels % outChannels, n = index / (pixels * outChannels);
        product[(long)o * batch * pixels + n * pixels + p] = dy[index];
    }

    /// <summary>sums[row] = Σ of the row's <paramref name="length"/> elements (the bias gradient): one group per row.</summary>
    public static void RowSums(int length, ArrayView<float> matrix, ArrayView<float> sums)
    {
        int row = Grid.IdxX, t = Group.IdxX;
        double sum = 0;
        for (int i = t; i < length; i += Group.DimX) sum += matrix[(long)row * length + i];
        sum = Reduce.Sum(sum);
        if (t == 0) sums[row] = (float)sum;
    }
}
