using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>
/// RMSProp (PyTorch, not centred): s ← α·s + (1−α)·g²; u = g / (√s + ε); with momentum μ &gt; 0,
/// b ← μ·b + u and p ← p − lr·b, otherwise p ← p − lr·u.
/// </summary>
public sealed class RmsProp : Optimizer
{
    public RmsProp(IReadOnlyList<Parameter> parameters, float alpha = 0.99f, float eps = 1e-8f, float momentum = 0,
                   Regularization regularization = default)
        : base(parameters, regularization, momentum > 0 ? ["square_avg", "momentum_buffer"] : ["square_avg"])
    {
        Alpha = Hyper.CheckUnit(alpha, nameof(alpha));
        Eps = Hyper.CheckEps(eps);
        Momentum = Hyper.CheckUnit(momentum, nameof(momentum));
    }

    public override string Name => "rmsprop";

    /// <summary>Smoothing constant of the squared-gradient average.</summary>
    public float Alpha { get; }

    public float Eps { get; }

    public float Momentum { get; }

    protected override string Hyperparameters => $"alpha={Alpha}, eps={Eps}, momentum={Momentum}";

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.RmsPropUpdate(value, grad, Buffer(0, index), Momentum > 0 ? Buffer(1, index) : null, learningRate, Alpha, Eps,
                                       Momentum, penalty);
}
