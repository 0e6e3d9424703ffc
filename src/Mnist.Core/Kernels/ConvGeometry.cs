namespace Mnist.Core.Kernels;

/// <summary>Shape of one convolution over one image (C×H×W input).</summary>
public readonly record struct ConvGeometry(int Channels, int Height, int Width, int KernelH, int KernelW, int Stride, int Pad)
{
    public int OutH => (Height + 2 * Pad - KernelH) / Stride + 1;
    public int OutW => (Width + 2 * Pad - KernelW) / Stride + 1;
    /// <summary>Rows of the column matrix: one per (channel, ky, kx).</summary>
    public int ColRows => Channels * KernelH * KernelW;
    /// <summary>Columns of the column matrix: one per output pixel.</summary>
    public int ColCols => OutH * OutW;
    public int ImageSize => Channels * Height * Width;
}
