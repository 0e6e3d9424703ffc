using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>
/// SGD with heavy-ball momentum, PyTorch's convention (dampening 0): v ← μ·v + g; p ← p − lr·v.
/// </summary>
public sealed class MomentumSgd : MomentumOptimizer
{
    public MomentumSgd(IReadOnlyList<Parameter> parameters, float momentum = 0.9f, Regularization regularization = default)
        : base(parameters, momentum, regularization) { }

    public override string Name => "momentum";

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.MomentumUpdate(value, grad, Buffer(0, index), learningRate, Momentum, penalty);
}
