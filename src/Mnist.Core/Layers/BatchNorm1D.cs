using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>Batch norm over features of [N, F] inputs (after a dense layer).</summary>
public sealed class BatchNorm1D(int features, float momentum = 0.1f, float epsilon = 1e-5f, Backend? backend = null)
    : BatchNorm(features, momentum, epsilon, backend)
{
    protected override void CheckInput(Tensor input) => OwnedBuffers.Expect(input, [Channels], this);

    public override string ToString() => $"BatchNorm1D({Channels})";
}
