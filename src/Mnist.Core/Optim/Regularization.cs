using System.Numerics;
using System.Runtime.CompilerServices;

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

/// <summary>The penalties one parameter gets on one step, in the form the element rules use.</summary>
internal readonly struct Penalty
{
    private readonly float _l1, _l2, _shrink;

    public Penalty(Regularization r, bool decays, float learningRate)
    {
        _l1 = decays ? r.L1 : 0;
        _l2 = decays ? r.L2 : 0;
        _shrink = decays ? 1 - learningRate * r.WeightDecay : 1;
    }

    /// <summary>g + L2·p + L1·sign(p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Gradient(Vector<float> g, Vector<float> p)
    {
        if (_l2 != 0) g += new Vector<float>(_l2) * p;
        if (_l1 != 0)
        {
            var sign = Vector.ConditionalSelect(Vector.GreaterThan(p, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero)
                     - Vector.ConditionalSelect(Vector.LessThan(p, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero);
            g += new Vector<float>(_l1) * sign;
        }
        return g;
    }

    /// <summary>p·(1 − lr·WeightDecay), or p untouched when there is no decoupled decay.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Shrink(Vector<float> p) => _shrink == 1 ? p : p * new Vector<float>(_shrink);
}
