using Mnist.Core.Data;
using Mnist.Core.Layers;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.Evaluation;

/// <summary>
/// Runs a network in evaluation mode over a split: loss, confusion matrix, worst mistakes. Each
/// batch goes up to the network's backend; the loss and the probabilities (for the confusion
/// matrix and the mistakes) come back down.
/// </summary>
public sealed class Evaluator(int batchSize = 500, int mistakesKept = 25)
{
    private readonly SoftmaxCrossEntropy _loss = new();
    private Tensor? _images;
    private float[] _hostImages = [], _probabilities = [];
    private int[] _labels = [];

    public EvaluationResult Evaluate(Sequential network, BatchLoader loader)
    {
        var split = loader.Split;
        int classes = 0;
        int[,]? confusion = null;
        double lossSum = 0;
        var mistakes = new List<Mistake>();
        for (int start = 0; start < split.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, split.Count - start);
            var logits = Forward(network, loader, start, count);
            var result = _loss.Forward(logits, _labels.AsSpan(0, count));
            lossSum += (double)result.MeanLoss * count;
            classes = logits.Dim(1);
            confusion ??= new int[classes, classes];
            if (_probabilities.Length < count * classes) _probabilities = new float[batchSize * classes];
            var probabilities = _probabilities.AsSpan(0, count * classes);
            _loss.Probabilities.CopyToHost(probabilities);
            for (int i = 0; i < count; i++)
            {
                var row = probabilities.Slice(i * classes, classes);
                int predicted = SoftmaxCrossEntropy.ArgMax(row);
                confusion[_labels[i], predicted]++;
                if (predicted != _labels[i]) mistakes.Add(new Mistake(start + i, _labels[i], predicted, row[predicted]));
            }
        }
        var worst = mistakes.OrderByDescending(m => m.Confidence).ThenBy(m => m.Index).Take(mistakesKept).ToList();
        return new EvaluationResult(split.Count == 0 ? 0 : lossSum / split.Count, confusion ?? new int[10, 10], worst);
    }

    /// <summary>Logits for samples [start, start+count) of the loader's split, on the network's backend.</summary>
    public Tensor Forward(Sequential network, BatchLoader loader, int start, int count)
    {
        var split = loader.Split;
        if (_images is null || _images.Backend != network.Backend) _images = new Tensor(network.Backend, batchSize, 1, split.Height, split.Width);
        _images.Reshape(count, 1, split.Height, split.Width);
        if (_hostImages.Length < _images.Length) _hostImages = new float[Math.Max(count, batchSize) * split.ImageSize];
        if (_labels.Length < count) _labels = new int[Math.Max(count, batchSize)];
        var pixels = _hostImages.AsSpan(0, _images.Length);
        loader.FillRange(start, count, pixels, _labels.AsSpan(0, count));
        _images.CopyFromHost(pixels);
        return network.Forward(_images, training: false);
    }
}
