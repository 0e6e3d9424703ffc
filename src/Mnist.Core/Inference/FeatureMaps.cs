using Mnist.Core.Layers;

namespace Mnist.Core.Inference;

/// <summary>
/// One image's activations after a convolution: <see cref="Channels"/> maps of
/// <see cref="Height"/> × <see cref="Width"/>, channel-major (CHW) in <see cref="Values"/>.
/// </summary>
public sealed record FeatureMaps(int Layer, int Channels, int Height, int Width, float[] Values)
{
    public ReadOnlySpan<float> Map(int channel) => Values.AsSpan(channel * Height * Width, Height * Width);

    /// <summary>
    /// The top-level layer whose output shows the first convolution's features: the first conv2d,
    /// or the batch norm and activation right after it (what the next layer sees); -1 when the
    /// network starts without one.
    /// </summary>
    public static int LayerOf(Sequential network)
    {
        var layers = network.Layers;
        int index = -1;
        for (int i = 0; i < layers.Count && index < 0; i++)
            if (layers[i] is Conv2D) index = i;
        if (index < 0) return -1;
        while (index + 1 < layers.Count && layers[index + 1] is BatchNorm or Activation) index++;
        return index;
    }
}
