namespace Mnist.Core.Kernels;

/// <summary>Shape of a pooling window sliding over C×H×W planes (no padding).</summary>
public readonly record struct PoolGeometry(int Channels, int Height, int Width, int Size, int Stride)
{
    public int OutH => (Height - Size) / Stride + 1;
    public int OutW => (Width - Size) / Stride + 1;
    public int InPlane => Height * Width;
    public int OutPlane => OutH * OutW;
}
