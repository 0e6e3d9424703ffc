using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>
/// What SGD with heavy-ball and with Nesterov momentum share: the momentum coefficient (which a
/// schedule may vary per step) and one velocity buffer per parameter. Each keeps its own update rule.
/// </summary>
public abstract class MomentumOptimizer : Optimizer, IMomentumOptimizer
{
    private float _momentum;

    private protected MomentumOptimizer(IReadOnlyList<Parameter> parameters, float momentum, Regularization regularization)
        : base(parameters, regularization, "momentum_buffer") => Momentum = momentum;

    public float Momentum
    {
        get => _momentum;
        set => _momentum = Hyper.CheckUnit(value, nameof(Momentum));
    }

    protected override string Hyperparameters => $"momentum={Momentum}";
}
