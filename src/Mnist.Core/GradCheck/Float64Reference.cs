using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>Values of a float64 forward pass and their shape (batch axis first).</summary>
public readonly record struct Float64Tensor(double[] Values, int[] Shape)
{
    public int Batch => Shape[0];
}

/// <summary>
/// One float64 forward pass through layers: whether it trains, and a hash of the kinks it
/// selected (ReLU signs, max-pool winners), folded as the float32 layers fold theirs.
/// </summary>
public sealed class Float64Pass(bool training)
{
    public bool Training { get; } = training;

    public ulong Pieces { get; private set; }

    /// <summary>The float64 output of <paramref name="layer"/> (a sequence, or a registered kind's reference).</summary>
    public Float64Tensor Run(Layer layer, Float64Tensor x)
    {
        if (layer is Sequential sequence)
        {
            foreach (var child in sequence.Layers) x = Run(child, x);
            return x;
        }
        var kind = LayerKinds.Of(layer) ?? throw new NotSupportedException($"no float64 reference for {layer}");
        return kind.Float64(layer, x, this);
    }

    /// <summary>Folds one selected piece (a max-pool winner's index) into <see cref="Pieces"/>.</summary>
    public void Piece(ulong index) => Pieces = Layers.Pieces.Mix(Pieces, index);

    /// <summary>Folds which elements are positive (a ReLU-like kink pattern) into <see cref="Pieces"/>.</summary>
    public void Signs(double[] x)
    {
        var signs = new float[x.Length];
        for (int i = 0; i < x.Length; i++) signs[i] = x[i] > 0 ? 1f : 0f;
        Pieces = Layers.Pieces.Signs(Pieces, signs);
    }
}

/// <summary>
/// The forward pass of a model recomputed in float64 with direct loops, on the model's own
/// float32 weights: the reference a whole network's gradients are checked against. Finite
/// differences of a float64 loss are exact to ~1e-10 with a tiny step, so neither float32 noise
/// nor kinks (ReLU, max pooling) spoil them. Each layer kind writes its own reference
/// (<see cref="LayerKind"/>); dropout reuses the mask of the model's last training pass; batch
/// norm uses batch statistics in training without touching the running ones.
/// </summary>
public static class Float64Reference
{
    /// <summary>Logits [batch × classes] in float64, and a hash of the kinks the pass selected.</summary>
    public static (double[] Output, ulong Pieces) Forward(Layer model, Tensor input, bool training)
    {
        var x = Array.ConvertAll(input.ToArray(), v => (double)v);
        var pass = new Float64Pass(training);
        var y = pass.Run(model, new Float64Tensor(x, input.Shape.ToArray()));
        return (y.Values, pass.Pieces);
    }

    /// <summary>
    /// Mean softmax cross-entropy of float64 logits against the targets ε/K + (1 − ε)·onehot
    /// (label smoothing ε; 0: plain), written the direct way: Σ_j −t_j·log p_j with
    /// log p_j = z_j − max − log Σ exp(z − max).
    /// </summary>
    public static double CrossEntropy(double[] logits, int classes, ReadOnlySpan<int> labels, double smoothing = 0)
    {
        double total = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            var row = logits.AsSpan(n * classes, classes);
            double max = double.NegativeInfinity;
            foreach (double v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (double v in row) sum += Math.Exp(v - max);
            double logSum = Math.Log(sum);
            for (int j = 0; j < classes; j++)
            {
                double target = smoothing / classes + (j == labels[n] ? 1 - smoothing : 0);
                total -= target * (row[j] - max - logSum);
            }
        }
        return total / labels.Length;
    }
}
