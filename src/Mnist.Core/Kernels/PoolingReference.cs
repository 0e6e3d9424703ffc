namespace Mnist.Core.Kernels;

/// <summary>The direct loops that <see cref="Pooling"/> is tested against.</summary>
public static class PoolingReference
{
    public static void MaxForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y, Span<int> argmax)
    {
        int planes = batch * g.Channels;
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    int best = p * g.InPlane + oy * g.Stride * g.Width + ox * g.Stride;
                    for (int ky = 0; ky < g.Size; ky++)
                        for (int kx = 0; kx < g.Size; kx++)
                        {
                            int i = p * g.InPlane + (oy * g.Stride + ky) * g.Width + ox * g.Stride + kx;
                            if (x[i] > x[best]) best = i;
                        }
                    int o = p * g.OutPlane + oy * g.OutW + ox;
                    y[o] = x[best];
                    argmax[o] = best;
                }
    }

    public static void MaxBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, Span<float> dx)
    {
        dx[..(batch * g.Channels * g.InPlane)].Clear();
        int n = batch * g.Channels * g.OutPlane;
        for (int o = 0; o < n; o++) dx[argmax[o]] += dy[o];
    }

    public static void AvgForward(in PoolGeometry g, int batch, ReadOnlySpan<float> x, Span<float> y)
    {
        int planes = batch * g.Channels;
        float inv = 1f / (g.Size * g.Size);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float sum = 0f;
                    for (int ky = 0; ky < g.Size; ky++)
                        for (int kx = 0; kx < g.Size; kx++)
                            sum += x[p * g.InPlane + (oy * g.Stride + ky) * g.Width + ox * g.Stride + kx];
                    y[p * g.OutPlane + oy * g.OutW + ox] = sum * inv;
                }
    }

    public static void AvgBackward(in PoolGeometry g, int batch, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int planes = batch * g.Channels;
        dx[..(planes * g.InPlane)].Clear();
        float inv = 1f / (g.Size * g.Size);
        for (int p = 0; p < planes; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float share = dy[p * g.OutPlane + oy * g.OutW + ox] * inv;
                    for (int ky = 0; ky < g.Size; ky++)
                        for (int kx = 0; kx < g.Size; kx++)
                            dx[p * g.InPlane + (oy * g.Stride + ky) * g.Width + ox * g.Stride + kx] += share;
                }
    }
}
