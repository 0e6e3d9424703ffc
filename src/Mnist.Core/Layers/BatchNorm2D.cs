using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Batch norm over channels of [N, C, H, W] inputs (after a convolution).</summary>
public sealed class BatchNorm2D(int channels, float momentum = 0.1f, float epsilon = 1e-5f, Backend? backend = null)
    : BatchNorm(channels, momentum, epsilon, backend)
{
    protected override void CheckInput(Tensor input) => OwnedBuffers.Expect(input, [Channels, -1, -1], this);

    public override string ToString() => $"BatchNorm2D({Channels})";
}
