using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>Plain stochastic gradient descent: p ← p − lr·g.</summary>
public sealed class Sgd(IReadOnlyList<Parameter> parameters, Regularization regularization = default)
    : Optimizer(parameters, regularization)
{
    public override string Name => "sgd";

    protected override string Hyperparameters => "";

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.SgdUpdate(value, grad, learningRate, penalty);
}
