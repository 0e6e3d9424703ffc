using System.Numerics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>AdaGrad (PyTorch, no lr decay): s ← s + g²; p ← p − lr·g / (√s + ε).</summary>
public sealed class AdaGrad : Optimizer
{
    public AdaGrad(IReadOnlyList<Parameter> parameters, float eps = 1e-10f, Regularization regularization = default)
        : base(parameters, regularization, "sum") => Eps = Hyper.CheckEps(eps);

    public override string Name => "adagrad";

    public float Eps { get; }

    protected override string Hyperparameters => $"eps={Eps}";

    private protected override void Update(int index, Span<float> value, ReadOnlySpan<float> grad, float learningRate, in Penalty penalty)
        => UpdateLoop.Run(new Rule(penalty, learningRate, Eps), value, grad, Buffer(0, index), default);

    private readonly struct Rule(Penalty penalty, float lr, float eps) : IElementRule
    {
        public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> sum, ref Vector<float> unused)
        {
            g = penalty.Gradient(g, p);
            sum += g * g;
            var std = Vector.SquareRoot(sum) + new Vector<float>(eps);
            return penalty.Shrink(p) - new Vector<float>(lr) * (g / std);
        }
    }
}
