using System.Numerics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>
/// SGD with Nesterov momentum, PyTorch's convention: v ← μ·v + g; p ← p − lr·(g + μ·v).
/// </summary>
public sealed class Nesterov : MomentumOptimizer
{
    public Nesterov(IReadOnlyList<Parameter> parameters, float momentum = 0.9f, Regularization regularization = default)
        : base(parameters, momentum, regularization) { }

    public override string Name => "nesterov";

    private protected override void Update(int index, Span<float> value, ReadOnlySpan<float> grad, float learningRate, in Penalty penalty)
        => UpdateLoop.Run(new Rule(penalty, learningRate, Momentum), value, grad, Buffer(0, index), default);

    private readonly struct Rule(Penalty penalty, float lr, float mu) : IElementRule
    {
        public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> v, ref Vector<float> unused)
        {
            g = penalty.Gradient(g, p);
            var m = new Vector<float>(mu);
            v = m * v + g;
            return penalty.Shrink(p) - new Vector<float>(lr) * (g + m * v);
        }
    }
}
