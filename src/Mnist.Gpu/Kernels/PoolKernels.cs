using ILGPU;
using ILGPU.Runtime;
using Mnist.Core.Kernels;

namespace Mnist.Gpu.Kernels;

/// <summary>
/// Pooling, one thread per output going forward and one per input going back: each input pixel
/// gathers from the windows that cover it in ascending output order, the CPU's order, so the
/// backward passes match it bit for bit and need no atomics.
/// </summary>
internal static class PoolKernels
{
    public static void MaxForward(Index1D o, PoolGeometry g, ArrayView<float> x, ArrayView<float> y, ArrayView<int> argmax)
    {
        int p = o / g.OutPlane, oy = o % g.OutPlane / g.OutW, ox = o % g.OutW;
        int corner = p * g.InPlane + oy * g.Stride * g.Width + ox * g.Stride, best = corner;
        for (int ky = 0; ky < g.Size; ky++)
            for (int kx = 0; kx < g.Size; kx++)
            {
                int i = corner + ky * g.Width + kx;
                if (x[i] > x[best]) best = i;
            }
        y[o] = x[best];
        argmax[o] = best;
    }

    public static void MaxBackward(Index1D i, PoolGeometry g, ArrayView<float> dy, ArrayView<int> argmax, ArrayView<float> dx)
    {
        int p = i / g.InPlane, iy = i % g.InPlane / g.Width, ix = i % g.Width;
        float sum = 0f;
        for (int oy = First(iy, g); oy <= Last(iy, g.OutH, g); oy++)
            for (int ox = First(ix, g); ox <= Last(ix, g.OutW, g); ox++)
            {
                int o = p * g.OutPlane + oy * g.OutW + ox;
                if (argmax[o] == i) sum += dy[o];
            }
        dx[i] = sum;
    }

    public static void AvgForward(Index1D o, PoolGeometry g, ArrayView<float> x, ArrayView<float> y)
    {
        int p = o / g.OutPlane, oy = o % g.OutPlane / g.OutW, ox = o % g.OutW;
        int corner = p * g.InPlane + oy * g.Stride * g.Width + ox * g.Stride;
        float sum = 0f;
        for (int ky = 0; ky < g.Size; ky++)
            for (int kx = 0; kx < g.Size; kx++) sum += x[corner + ky * g.Width + kx];
        y[o] = sum * (1f / (g.Size * g.Size));
    }

    public static void AvgBackward(Index1D i, PoolGeometry g, ArrayView<float> dy, ArrayView<float> dx)
    {
        int p = i / g.InPlane, iy = i % g.InPlane / g.Width, ix = i % g.Width;
        float inv = 1f / (g.Size * g.Size), sum = 0f;
        for (int oy = First(iy, g); oy <= Last(iy, g.OutH, g); oy++)
            for (int ox = First(ix, g); ox <= Last(ix, g.OutW, g); ox++) sum += dy[p * g.OutPlane + oy * g.OutW + ox] * inv;
        dx[i] = sum;
    }

    /// <summary>The first window (along one axis) that covers input coordinate <paramref name="at"/>.</summary>
    private static int First(int at, PoolGeometry g) => at < g.Size ? 0 : (at - g.Size) / g.Stride + 1;

    /// <summary>The last window that covers it.</summary>
    private static int Last(int at, int outSize, PoolGeometry g) => at / g.Stride < outSize - 1 ? at / g.Stride : outSize - 1;

    public static void GlobalMaxForward(Index1D p, int planeSize, ArrayView<float> x, ArrayView<float> y, ArrayView<int> argmax)
    {
        int best = p * planeSize;
        for (int i = best + 1; i < (p + 1) * planeSize; i++) if (x[i] > x[best]) best = i;
        argmax[p] = best;
        y[p] = x[best];
    }

    public static void GlobalMaxBackward(Index1D i, int planeSize, ArrayView<float> dy, ArrayView<int> argmax, ArrayView<float> dx)
    {
        int p = i / planeSize;
        dx[i] = argmax[p] == i ? dy[p] : 0f;
    }
}
