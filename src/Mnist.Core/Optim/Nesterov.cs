using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>
/// SGD with Nesterov momentum, PyTorch's convention: v ← μ·v + g; p ← p − lr·(g + μ·v).
/// </summary>
public sealed class Nesterov : MomentumOptimizer
{
    public Nesterov(IReadOnlyList<Parameter> parameters, float momentum = 0.9f, Regularization regularization = default)
        : base(parameters, momentum, regularization) { }

    public override string Name => "nesterov";

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.NesterovUpdate(value, grad, Buffer(0, index), learningRate, Momentum, penalty);
}
