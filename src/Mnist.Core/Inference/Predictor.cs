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
/// Classifies 28×28 images whose pixels are in [0,1] (ink bright), applying each network's own
/// normalisation. The image goes up to the network's backend and the logits come back down; a
/// <see cref="Classifier"/> of several members or views averages their probabilities. Holds the
/// networks' buffers, so one predictor serves one thread at a time.
/// </summary>
public sealed class Predictor
{
    private readonly Classifier _classifier;
    private readonly Tensor[] _inputs;
    private readonly float[] _pixels, _view;
    private readonly double[] _sum;
    private float[] _logits = [];
    private readonly int _featureLayer;

    public Predictor(Classifier classifier)
    {
        _classifier = classifier;
        _inputs = [.. classifier.Members.Select(m => new Tensor(m.Network.Backend, [1, .. classifier.InputShape]))];
        _pixels = new float[_inputs[0].Length];
        _view = new float[_pixels.Length];
        _sum = new double[classifier.NumClasses];
        _featureLayer = FeatureMaps.LayerOf(classifier.Members[0].Network);
    }

    public Predictor(LoadedModel model) : this(new Classifier([ClassifierMember.Of(model)])) { }

    public Classifier Classifier => _classifier;

    public int PixelCount => _pixels.Length;

    public Prediction Predict(ReadOnlySpan<float> unitPixels)
    {
        if (_classifier.IsPlain)
        {
            Upload(unitPixels, 0, 0);
            return Classify(_classifier.Members[0].Network.Forward(_inputs[0], training: false));
        }
        return Average(unitPixels);
    }

    /// <summary>
    /// Classifies like <see cref="Predict"/> and also returns what the first convolution of the
    /// first network detects in the image itself: its output after the normalisation and
    /// activation that follow it (null for a network without a convolution). Same answer as
    /// <see cref="Predict"/>: the network runs layer by layer in its own order (<see cref="Sequential.Forward"/>
    /// pools before a ReLU, with the same values, but the maps need the full-size activation).
    /// </summary>
    public (Prediction Prediction, FeatureMaps? Maps) PredictWithFeatureMaps(ReadOnlySpan<float> unitPixels)
    {
        Upload(unitPixels, 0, 0);
        FeatureMaps? maps = null;
        var network = _classifier.Members[0].Network;
        var x = _inputs[0];
        for (int i = 0; i < network.Layers.Count; i++)
        {
            x = network.Layers[i].Forward(x, training: false);
            if (i == _featureLayer) maps = new FeatureMaps(i, x.Dim(1), x.Dim(2), x.Dim(3), x.ToArray());
        }
        return (_classifier.IsPlain ? Classify(x) : Average(unitPixels), maps);
    }

    /// <summary>The image normalised for member <paramref name="member"/>, in view <paramref name="view"/>, on its network's backend.</summary>
    private void Upload(ReadOnlySpan<float> unitPixels, int member, int view)
    {
        if (unitPixels.Length != _pixels.Length)
            throw new MnistException($"expected {_pixels.Length} pixels, got {unitPixels.Length}");
        var normalization = _classifier.Members[member].Normalization;
        normalization.Apply(unitPixels, _pixels);
        if (view == 0)
        {
            _inputs[member].CopyFromHost(_pixels);
            return;
        }
        int height = _classifier.InputShape[^2], width = _classifier.InputShape[^1];
        _classifier.Views.Apply(view, _pixels, _pixels.Length / (height * width), height, width, normalization.Apply(0f), _view);
        _inputs[member].CopyFromHost(_view);
    }

    /// <summary>The mean of every member's softmax on every view (summed in float64).</summary>
    private Prediction Average(ReadOnlySpan<float> unitPixels)
    {
        Array.Clear(_sum);
        var probabilities = new float[_sum.Length];
        for (int m = 0; m < _classifier.Members.Count; m++)
            for (int v = 0; v < _classifier.Views.Count; v++)
            {
                Upload(unitPixels, m, v);
                Softmax(_classifier.Members[m].Network.Forward(_inputs[m], training: false), probabilities);
                for (int j = 0; j < _sum.Length; j++) _sum[j] += probabilities[j];
            }
        int passes = _classifier.Members.Count * _classifier.Views.Count;
        for (int j = 0; j < _sum.Length; j++) probabilities[j] = (float)(_sum[j] / passes);
        return new Prediction(SoftmaxCrossEntropy.ArgMax(probabilities), probabilities);
    }

    /// <summary>The digit and the ten probabilities, by the same softmax the training loss uses.</summary>
    private Prediction Classify(Tensor output)
    {
        var probabilities = new float[output.Length];
        int digit = Softmax(output, probabilities);
        return new Prediction(digit, probabilities);
    }

    /// <summary>Softmax of the logits into <paramref name="probabilities"/>; returns the argmax of the logits.</summary>
    private int Softmax(Tensor output, float[] probabilities)
    {
        if (_logits.Length != output.Length) _logits = new float[output.Length];
        output.CopyToHost(_logits);
        int digit = SoftmaxCrossEntropy.ArgMax(_logits);
        SoftmaxCrossEntropy.Softmax(_logits, _logits[digit], probabilities);
        return digit;
    }
}
