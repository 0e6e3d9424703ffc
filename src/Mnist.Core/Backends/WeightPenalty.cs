using System.Numerics;
using System.Runtime.CompilerServices;
using Mnist.Core.Optim;

namespace Mnist.Core.Backends;

/// <summary>
/// The weight penalties one parameter gets on one optimizer step: <see cref="L1"/>·sign(p) and
/// <see cref="L2"/>·p added to the gradient, and the parameter scaled by <see cref="Shrink"/>
/// (1 − lr·weight decay) before the update. All zero, and Shrink 1, for parameters without decay.
/// </summary>
public readonly struct WeightPenalty
{
    public WeightPenalty(Regularization r, bool decays, float learningRate)
    {
        L1 = decays ? r.L1 : 0;
        L2 = decays ? r.L2 : 0;
        Shrink = decays ? 1 - learningRate * r.WeightDecay : 1;
    }

    public float L1 { get; }
    public float L2 { get; }
    public float Shrink { get; }

    /// <summary>g + L2·p + L1·sign(p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Vector<float> Gradient(Vector<float> g, Vector<float> p)
    {
        if (L2 != 0) g += new Vector<float>(L2) * p;
        if (L1 != 0)
        {
            var sign = Vector.ConditionalSelect(Vector.GreaterThan(p, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero)
                     - Vector.ConditionalSelect(Vector.LessThan(p, Vector<float>.Zero), Vector<float>.One, Vector<float>.Zero);
            g += new Vector<float>(L1) * sign;
        }
        return g;
    }

    /// <summary>p·Shrink, or p untouched when there is no decoupled decay.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Vector<float> Apply(Vector<float> p) => Shrink == 1 ? p : p * new Vector<float>(Shrink);
}
