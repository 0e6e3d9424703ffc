using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Optim;

/// <summary>
/// Adam with bias correction (PyTorch): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
/// </summary>
public class Adam : Optimizer, IMomentumOptimizer
{
    private float _beta1;
    private float _stepSize, _correction2Sqrt;

    public Adam(IReadOnlyList<Parameter> parameters, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
                Regularization regularization = default)
        : base(parameters, regularization, "exp_avg", "exp_avg_sq")
    {
        Beta1 = beta1;
        Beta2 = Hyper.CheckUnit(beta2, nameof(beta2));
        Eps = Hyper.CheckEps(eps);
    }

    public override string Name => "adam";

    /// <summary>Decay of the gradient average; one-cycle may vary it per step.</summary>
    public float Beta1
    {
        get => _beta1;
        set => _beta1 = Hyper.CheckUnit(value, nameof(Beta1));
    }

    public float Beta2 { get; }

    public float Eps { get; }

    float IMomentumOptimizer.Momentum
    {
        get => Beta1;
        set => Beta1 = value;
    }

    protected override string Hyperparameters => $"beta1={Beta1}, beta2={Beta2}, eps={Eps}";

    protected override void BeginStep(float learningRate)
    {
        // Corrections in double, as PyTorch computes them on Python floats.
        double correction1 = 1 - Math.Pow(_beta1, StepCount);
        double correction2 = 1 - Math.Pow(Beta2, StepCount);
        _stepSize = (float)(learningRate / correction1);
        _correction2Sqrt = (float)Math.Sqrt(correction2);
    }

    private protected override void Update(int index, Tensor value, Tensor grad, float learningRate, in WeightPenalty penalty)
        => value.Backend.AdamUpdate(value, grad, Buffer(0, index), Buffer(1, index), _beta1, Beta2, Eps, _stepSize, _correction2Sqrt, penalty);
}

/// <summary>
/// AdamW: Adam with decoupled weight decay, p ← p·(1 − lr·λ) before the Adam update, applied to
/// parameters with Decay = true. λ defaults to PyTorch's 0.01.
/// </summary>
public sealed class AdamW(IReadOnlyList<Parameter> parameters, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
                          float weightDecay = 0.01f, float l1 = 0, float l2 = 0)
    : Adam(parameters, beta1, beta2, eps, new Regularization(l1, l2, weightDecay))
{
    public override string Name => "adamw";
}
