using Mnist.Core.Data;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Losses;
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
        return Classify(logits);
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
        return (Classify(logits), maps);
    }

    /// <summary>The digit and the ten probabilities, by the same softmax the training loss uses.</summary>
    private static Prediction Classify(ReadOnlySpan<float> logits)
    {
        int digit = SoftmaxCrossEntropy.ArgMax(logits);
        var probabilities = new float[logits.Length];
        SoftmaxCrossEntropy.Softmax(logits, logits[digit], probabilities);
        return new Prediction(digit, probabilities);
    }
}
