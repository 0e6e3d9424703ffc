namespace Mnist.Core.Optim;

/// <summary>
/// Weight penalties, applied only to parameters with <c>Decay = true</c> (weights, not biases):
/// L2 adds <c>L2·p</c> and L1 adds <c>L1·sign(p)</c> to the gradient (coupled, PyTorch's
/// <c>weight_decay</c> for SGD/Adam); WeightDecay shrinks the parameter by <c>1 − lr·WeightDecay</c>
/// before the update (decoupled, as in AdamW).
/// </summary>
public readonly record struct Regularization(float L1 = 0, float L2 = 0, float WeightDecay = 0)
{
    public static Regularization None => default;

    internal void Validate()
    {
        Check(L1, nameof(L1));
        Check(L2, nameof(L2));
        Check(WeightDecay, nameof(WeightDecay));
        static void Check(float v, string what)
        {
            if (!float.IsFinite(v) || v < 0) throw new ArgumentOutOfRangeException(what, v, "must be finite and non-negative");
        }
    }

    public override string ToString() => $"l1={L1}, l2={L2}, weightDecay={WeightDecay}";
}
