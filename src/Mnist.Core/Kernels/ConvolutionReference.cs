namespace Mnist.Core.Kernels;

/// <summary>The direct seven-loop convolution that <see cref="Convolution"/> is tested against.</summary>
public static class ConvolutionReference
{
    public static void Forward(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y)
    {
        int oh = g.OutH, ow = g.OutW;
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < outChannels; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float sum = bias[o];
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * g.Stride - g.Pad + ky, ix = ox * g.Stride - g.Pad + kx;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    sum += w[((o * g.Channels + c) * g.KernelH + ky) * g.KernelW + kx]
                                         * x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix];
                                }
                        y[((n * outChannels + o) * oh + oy) * ow + ox] = sum;
                    }
    }

    public static void BackwardData(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> dy,
        ReadOnlySpan<float> w, Span<float> dx)
    {
        int oh = g.OutH, ow = g.OutW;
        dx[..(batch * g.ImageSize)].Clear();
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < outChannels; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float d = dy[((n * outChannels + o) * oh + oy) * ow + ox];
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * g.Stride - g.Pad + ky, ix = ox * g.Stride - g.Pad + kx;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    dx[((n * g.Channels + c) * g.Height + iy) * g.Width + ix]
                                        += d * w[((o * g.Channels + c) * g.KernelH + ky) * g.KernelW + kx];
                                }
                    }
    }

    public static void BackwardWeights(in ConvGeometry g, int outChannels, int batch, ReadOnlySpan<float> x,
        ReadOnlySpan<float> dy, Span<float> dw, Span<float> db)
    {
        int oh = g.OutH, ow = g.OutW;
        dw[..(outChannels * g.ColRows)].Clear();
        db[..outChannels].Clear();
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < outChannels; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        float d = dy[((n * outChannels + o) * oh + oy) * ow + ox];
                        db[o] += d;
                        for (int c = 0; c < g.Channels; c++)
                            for (int ky = 0; ky < g.KernelH; ky++)
                                for (int kx = 0; kx < g.KernelW; kx++)
                                {
                                    int iy = oy * g.Stride - g.Pad + ky, ix = ox * g.Stride - g.Pad + kx;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    dw[((o * g.Channels + c) * g.KernelH + ky) * g.KernelW + kx]
                                        += d * x[((n * g.Channels + c) * g.Height + iy) * g.Width + ix];
                                }
                    }
    }
}
