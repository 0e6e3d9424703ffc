using System.Numerics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>
/// SGD with heavy-ball momentum, PyTorch's convention (dampening 0): v ← μ·v + g; p ← p − lr·v.
/// </summary>
public sealed class MomentumSgd : MomentumOptimizer
{
    public MomentumSgd(IReadOnlyList<Parameter> parameters, float momentum = 0.9f, Regularization regularization = default)
        : base(parameters, momentum, regularization) { }

    public override string Name => "momentum";

    private protected override void Update(int index, Span<float> value, ReadOnlySpan<float> grad, float learningRate, in Penalty penalty)
        => UpdateLoop.Run(new Rule(penalty, learningRate, Momentum), value, grad, Buffer(0, index), default);

    private readonly struct Rule(Penalty penalty, float lr, float mu) : IElementRule
    {
        public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> v, ref Vector<float> unused)
        {
            g = penalty.Gradient(g, p);
            v = new Vector<float>(mu) * v + g;
            return penalty.Shrink(p) - new Vector<float>(lr) * v;
        }
    }
}
