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
/// normalisation. The image goes up to the network's backend and the logits come back down.
/// Holds the network's buffers, so one predictor serves one thread at a time.
/// </summary>
public sealed class Predictor
{
    private readonly Sequential _network;
    private readonly Normalization _normalization;
    private readonly Tensor _input;
    private readonly float[] _pixels;
    private float[] _logits = [];
    private readonly int _featureLayer;

    public Predictor(Sequential network, Normalization normalization, int[] inputShape)
    {
        _network = network;
        _normalization = normalization;
        _input = new Tensor(network.Backend, [1, .. inputShape]);
        _pixels = new float[_input.Length];
        _featureLayer = FeatureMaps.LayerOf(network);
    }

    public Predictor(LoadedModel model) : this(model.Network, model.Normalization, model.Config.InputShape) { }

    public int PixelCount => _input.Length;

    public Prediction Predict(ReadOnlySpan<float> unitPixels)
    {
        Upload(unitPixels);
        return Classify(_network.Forward(_input, training: false));
    }

    /// <summary>
    /// Classifies like <see cref="Predict"/> and also returns what the first convolution detects:
    /// its output after the normalisation and activation that follow it (null for a network
    /// without a convolution). Same logits as <see cref="Predict"/>: the network runs layer by
    /// layer, exactly as <see cref="Sequential.Forward"/> does.
    /// </summary>
    public (Prediction Prediction, FeatureMaps? Maps) PredictWithFeatureMaps(ReadOnlySpan<float> unitPixels)
    {
        Upload(unitPixels);
        FeatureMaps? maps = null;
        var x = _input;
        for (int i = 0; i < _network.Layers.Count; i++)
        {
            x = _network.Layers[i].Forward(x, training: false);
            if (i == _featureLayer) maps = new FeatureMaps(i, x.Dim(1), x.Dim(2), x.Dim(3), x.ToArray());
        }
        return (Classify(x), maps);
    }

    private void Upload(ReadOnlySpan<float> unitPixels)
    {
        if (unitPixels.Length != _input.Length)
            throw new MnistException($"expected {_input.Length} pixels, got {unitPixels.Length}");
        _normalization.Apply(unitPixels, _pixels);
        _input.CopyFromHost(_pixels);
    }

    /// <summary>The digit and the ten probabilities, by the same softmax the training loss uses.</summary>
    private Prediction Classify(Tensor output)
    {
        if (_logits.Length != output.Length) _logits = new float[output.Length];
        output.CopyToHost(_logits);
        int digit = SoftmaxCrossEntropy.ArgMax(_logits);
        var probabilities = new float[_logits.Length];
        SoftmaxCrossEntropy.Softmax(_logits, _logits[digit], probabilities);
        return new Prediction(digit, probabilities);
    }
}
