using Mnist.Core.Kernels;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Pooling geometry shared by the two pooling layers, with the shape checks.</summary>
internal static class Pools
{
    public static PoolGeometry Geometry(Layer layer, Tensor input, int size, int stride)
        => Geometry(layer, input.Dim(1), input.Dim(2), input.Dim(3), size, stride);

    public static PoolGeometry Geometry(Layer layer, int[] sampleShape, int size, int stride)
    {
        if (sampleShape.Length != 3) throw new MnistException($"{layer} expects [C, H, W] inputs but got {Tensor.ShapeText(sampleShape)}");
        return Geometry(layer, sampleShape[0], sampleShape[1], sampleShape[2], size, stride);
    }

    private static PoolGeometry Geometry(Layer layer, int channels, int height, int width, int size, int stride)
    {
        if (height < size || width < size) throw new MnistException($"{layer} does not fit a {height}x{width} input");
        return new PoolGeometry(channels, height, width, size, stride);
    }
}
