using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Inference;

/// <summary>The network's answer for one image: the digit and the probability of each class.</summary>
public sealed record Prediction(int Digit, float[] Probabilities)
{
    public float Confidence => Probabilities[Digit];
}

/// <summary>
/// Classifies 28×28 images whose pixels are in [0,1] (ink bright), applying the model's own
/// normalisation. Holds the network's buffers, so one predictor serves one thread at a time.
/// </summary>
public sealed class Predictor(Sequential network, Normalization normalization, int[] inputShape)
{
    private readonly Tensor _input = new([1, .. inputShape]);
    private readonly int _featureLayer = FeatureMaps.LayerOf(network);

    public Predictor(LoadedModel model) : this(model.Network, model.Normalization, model.Config.InputShape) { }

    public int PixelCount => _input.Length;

    public Prediction Predict(ReadOnlySpan<float> unitPixels)
    {
        if (unitPixels.Length != _input.Length)
            throw new MnistException($"expected {_input.Length} pixels, got {unitPixels.Length}");
        normalization.Apply(unitPixels, _input.Span);
        var logits = network.Forward(_input, training: false).Span;
        return new Prediction(ArgMax(logits), Softmax(logits));
    }

    /// <summary>
    /// Classifies like <see cref="Predict"/> and also returns what the first convolution detects:
    /// its output after the normalisation and activation that follow it (null for a network
    /// without a convolution). Same logits as <see cref="Predict"/>: the network runs layer by
    /// layer, exactly as <see cref="Sequential.Forward"/> does.
    /// </summary>
    public (Prediction Prediction, FeatureMaps? Maps) PredictWithFeatureMaps(ReadOnlySpan<float> unitPixels)
    {
        if (unitPixels.Length != _input.Length)
            throw new MnistException($"expected {_input.Length} pixels, got {unitPixels.Length}");
        normalization.Apply(unitPixels, _input.Span);
        FeatureMaps? maps = null;
        var x = _input;
        for (int i = 0; i < network.Layers.Count; i++)
        {
            x = network.Layers[i].Forward(x, training: false);
            if (i == _featureLayer) maps = new FeatureMaps(i, x.Dim(1), x.Dim(2), x.Dim(3), x.Span.ToArray());
        }
        var logits = x.Span;
        return (new Prediction(ArgMax(logits), Softmax(logits)), maps);
    }

    /// <summary>Numerically stable softmax (subtracting the largest logit first).</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        var probabilities = new float[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += probabilities[i] = MathF.Exp(logits[i] - max);
        for (int i = 0; i < logits.Length; i++) probabilities[i] = (float)(probabilities[i] / sum);
        return probabilities;
    }

    /// <summary>Index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
