using System.Numerics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>Plain stochastic gradient descent: p ← p − lr·g.</summary>
public sealed class Sgd(IReadOnlyList<Parameter> parameters, Regularization regularization = default)
    : Optimizer(parameters, regularization)
{
    public override string Name => "sgd";

    protected override string Hyperparameters => "";

    private protected override void Update(int index, Span<float> value, ReadOnlySpan<float> grad, float learningRate, in Penalty penalty)
        => UpdateLoop.Run(new Rule(penalty, learningRate), value, grad, default, default);

    private readonly struct Rule(Penalty penalty, float lr) : IElementRule
    {
        public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> s0, ref Vector<float> s1)
        {
            g = penalty.Gradient(g, p);
            return penalty.Shrink(p) - new Vector<float>(lr) * g;
        }
    }
}
