using System.Numerics;
using Mnist.Core.Layers;

namespace Mnist.Core.Optim;

/// <summary>
/// RMSProp (PyTorch, not centred): s ← α·s + (1−α)·g²; u = g / (√s + ε); with momentum μ &gt; 0,
/// b ← μ·b + u and p ← p − lr·b, otherwise p ← p − lr·u.
/// </summary>
public sealed class RmsProp : Optimizer
{
    public RmsProp(IReadOnlyList<Parameter> parameters, float alpha = 0.99f, float eps = 1e-8f, float momentum = 0,
                   Regularization regularization = default)
        : base(parameters, regularization, momentum > 0 ? ["square_avg", "momentum_buffer"] : ["square_avg"])
    {
        Alpha = Hyper.CheckUnit(alpha, nameof(alpha));
        Eps = Hyper.CheckEps(eps);
        Momentum = Hyper.CheckUnit(momentum, nameof(momentum));
    }

    public override string Name => "rmsprop";

    /// <summary>Smoothing constant of the squared-gradient average.</summary>
    public float Alpha { get; }

    public float Eps { get; }

    public float Momentum { get; }

    protected override string Hyperparameters => $"alpha={Alpha}, eps={Eps}, momentum={Momentum}";

    private protected override void Update(int index, Span<float> value, ReadOnlySpan<float> grad, float learningRate, in Penalty penalty)
        => UpdateLoop.Run(new Rule(penalty, learningRate, Alpha, Eps, Momentum), value, grad,
                          Buffer(0, index), Momentum > 0 ? Buffer(1, index) : default);

    private readonly struct Rule(Penalty penalty, float lr, float alpha, float eps, float mu) : IElementRule
    {
        public Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> square, ref Vector<float> buffer)
        {
            g = penalty.Gradient(g, p);
            square = new Vector<float>(alpha) * square + new Vector<float>(1 - alpha) * (g * g);
            var step = g / (Vector.SquareRoot(square) + new Vector<float>(eps));
            if (mu > 0) step = buffer = new Vector<float>(mu) * buffer + step;
            return penalty.Shrink(p) - new Vector<float>(lr) * step;
        }
    }
}
