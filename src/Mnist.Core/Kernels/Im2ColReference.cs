namespace Mnist.Core.Kernels;

/// <summary>The direct loops that <see cref="Im2Col"/> is tested against.</summary>
public static class Im2ColReference
{
    public static void Unfold(in ConvGeometry g, ReadOnlySpan<float> image, Span<float> cols)
    {
        int oh = g.OutH, ow = g.OutW;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    int row = (c * g.KernelH + ky) * g.KernelW + kx;
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int y = oy * g.Stride - g.Pad + ky, x = ox * g.Stride - g.Pad + kx;
                            bool inside = y >= 0 && y < g.Height && x >= 0 && x < g.Width;
                            cols[row * oh * ow + oy * ow + ox] = inside ? image[(c * g.Height + y) * g.Width + x] : 0f;
                        }
                }
    }

    public static void Fold(in ConvGeometry g, ReadOnlySpan<float> cols, Span<float> image)
    {
        int oh = g.OutH, ow = g.OutW;
        for (int c = 0; c < g.Channels; c++)
            for (int ky = 0; ky < g.KernelH; ky++)
                for (int kx = 0; kx < g.KernelW; kx++)
                {
                    int row = (c * g.KernelH + ky) * g.KernelW + kx;
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int y = oy * g.Stride - g.Pad + ky, x = ox * g.Stride - g.Pad + kx;
                            if (y >= 0 && y < g.Height && x >= 0 && x < g.Width)
                                image[(c * g.Height + y) * g.Width + x] += cols[row * oh * ow + oy * ow + ox];
                        }
                }
    }
}
