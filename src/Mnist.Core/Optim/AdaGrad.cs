using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>AdaGrad (PyTorch, no lr decay): s ← s + g²; p ← p − lr·g / (√s + ε).</summary>
public sealed class AdaGrad : Optimizer
{
    public AdaGrad(IReadOnlyList<Parameter> parameters, float eps = 1e-10f, Regularization regularization = default)
        : base(parameters, regularization, "sum") => Eps = Hyper.CheckEps(eps);

    public override string Name => "adagrad";

    public float Eps { get; }

    protected override string Hyperparameters => $"eps={Eps}";

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.AdaGradUpdate(value, grad, Buffer(0, index), learningRate, Eps, penalty);
}
