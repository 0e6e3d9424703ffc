using System.Numerics;
using Mnist.Core.Backends;

namespace Mnist.Core.Kernels;

// The optimizers' per-element rules for UpdateLoop, PyTorch's conventions (see Backend's update
// entry points). Each applies the weight penalty first: g′ = g + L2·p + L1·sign(p), p·shrink.

internal readonly struct SgdRule(WeightPenalty penalty, float lr) : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> s0, ref Vector<float> s1)
    {
        g = penalty.Gradient(g, p);
        return penalty.Apply(p) - new Vector<float>(lr) * g;
    }
}

internal readonly struct MomentumRule(WeightPenalty penalty, float lr, float mu) : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> v, ref Vector<float> unused)
    {
        g = penalty.Gradient(g, p);
        v = new Vector<float>(mu) * v + g;
        return penalty.Apply(p) - new Vector<float>(lr) * v;
    }
}

internal readonly struct NesterovRule(WeightPenalty penalty, float lr, float mu) : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> v, ref Vector<float> unused)
    {
        g = penalty.Gradient(g, p);
        var m = new Vector<float>(mu);
        v = m * v + g;
        return penalty.Apply(p) - new Vector<float>(lr) * (g + m * v);
    }
}

internal readonly struct AdaGradRule(WeightPenalty penalty, float lr, float eps) : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> sum, ref Vector<float> unused)
    {
        g = penalty.Gradient(g, p);
        sum += g * g;
        var std = Vector.SquareRoot(sum) + new Vector<float>(eps);
        return penalty.Apply(p) - new Vector<float>(lr) * (g / std);
    }
}

internal readonly struct RmsPropRule(WeightPenalty penalty, float lr, float alpha, float eps, float mu) : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> square, ref Vector<float> buffer)
    {
        g = penalty.Gradient(g, p);
        square = new Vector<float>(alpha) * square + new Vector<float>(1 - alpha) * (g * g);
        var step = g / (Vector.SquareRoot(square) + new Vector<float>(eps));
        if (mu > 0) step = buffer = new Vector<float>(mu) * buffer + step;
        return penalty.Apply(p) - new Vector<float>(lr) * step;
    }
}

internal readonly struct AdamRule(WeightPenalty penalty, float beta1, float beta2, float eps, float stepSize, float correction2Sqrt)
    : IElementRule
{
    public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> m, ref Vector<float> v)
    {
        g = penalty.Gradient(g, p);
        m = new Vector<float>(beta1) * m + new Vector<float>(1 - beta1) * g;
        v = new Vector<float>(beta2) * v + new Vector<float>(1 - beta2) * (g * g);
        var denom = Vector.SquareRoot(v) / new Vector<float>(correction2Sqrt) + new Vector<float>(eps);
        return penalty.Apply(p) - new Vector<float>(stepSize) * (m / denom);
    }
}
