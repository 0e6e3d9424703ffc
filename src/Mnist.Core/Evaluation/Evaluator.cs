using Mnist.Core.Data;
using Mnist.Core.Inference;
using Mnist.Core.Layers;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.Evaluation;

/// <summary>
/// Runs a network (or a <see cref="Classifier"/>: an ensemble, test-time views) in evaluation
/// mode over a split: loss, confusion matrix, worst mistakes. Each batch goes up to the
/// network's backend; the loss and the probabilities (for the confusion matrix and the mistakes)
/// come back down.
/// </summary>
public sealed class Evaluator(int batchSize = 500, int mistakesKept = 25)
{
    private readonly SoftmaxCrossEntropy _loss = new();
    private Tensor? _images;
    private float[] _hostImages = [], _viewImages = [], _probabilities = [];
    private double[] _averaged = [];
    private int[] _labels = [];

    public EvaluationResult Evaluate(Sequential network, BatchLoader loader)
    {
        var split = loader.Split;
        var tally = new Tally(mistakesKept);
        for (int start = 0; start < split.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, split.Count - start);
            var logits = Forward(network, loader, start, count);
            var result = _loss.Forward(logits, _labels.AsSpan(0, count));
            int classes = logits.Dim(1);
            var probabilities = Download(_loss.Probabilities, count * classes);
            tally.Add(start, count, classes, probabilities, _labels, (double)result.MeanLoss * count);
        }
        return tally.Result(split.Count);
    }

    /// <summary>
    /// Evaluates a classifier: a plain one exactly as <see cref="Evaluate(Sequential, BatchLoader)"/>
    /// does; otherwise from the probabilities averaged over its members and views (summed in
    /// float64), the loss being the mean of −log of the averaged probability of the true class.
    /// </summary>
    public EvaluationResult Evaluate(Classifier classifier, MnistSplit split)
    {
        var members = classifier.Members;
        if (classifier.IsPlain) return Evaluate(members[0].Network, new BatchLoader(split, members[0].Normalization));
        var loaders = members.Select(m => new BatchLoader(split, m.Normalization)).ToList();
        var views = classifier.Views;
        int classes = classifier.NumClasses, passes = members.Count * views.Count;
        var tally = new Tally(mistakesKept);
        for (int start = 0; start < split.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, split.Count - start);
            if (_averaged.Length < count * classes) _averaged = new double[batchSize * classes];
            var sum = _averaged.AsSpan(0, count * classes);
            sum.Clear();
            for (int m = 0; m < members.Count; m++)
            {
                var pixels = Fill(members[m].Network, loaders[m], start, count);
                float background = members[m].Normalization.Apply(0f);
                for (int v = 0; v < views.Count; v++)
                {
                    if (_viewImages.Length < pixels.Length) _viewImages = new float[_hostImages.Length];
                    var view = _viewImages.AsSpan(0, pixels.Length);
                    views.Apply(v, pixels, count, split.Height, split.Width, background, view);
                    _images!.CopyFromHost(view);
                    _loss.Forward(members[m].Network.Forward(_images, training: false), _labels.AsSpan(0, count));
                    var probabilities = Download(_loss.Probabilities, count * classes);
                    for (int i = 0; i < sum.Length; i++) sum[i] += probabilities[i];
                }
            }
            var mean = _probabilities.AsSpan(0, count * classes);
            double lossSum = 0;
            for (int i = 0; i < mean.Length; i++) mean[i] = (float)(sum[i] / passes);
            // a vanishing probability is taken as the smallest float, so the loss stays finite
            for (int i = 0; i < count; i++) lossSum -= Math.Log(Math.Max(sum[i * classes + _labels[i]] / passes, float.Epsilon));
            tally.Add(start, count, classes, mean, _labels, lossSum);
        }
        return tally.Result(split.Count);
    }

    /// <summary>Logits for samples [start, start+count) of the loader's split, on the network's backend.</summary>
    public Tensor Forward(Sequential network, BatchLoader loader, int start, int count)
    {
        var pixels = Fill(network, loader, start, count);
        _images!.CopyFromHost(pixels);
        return network.Forward(_images, training: false);
    }

    /// <summary>Normalised pixels and labels of samples [start, start+count) on the host, the input tensor shaped for them.</summary>
    private Span<float> Fill(Sequential network, BatchLoader loader, int start, int count)
    {
        var split = loader.Split;
        if (_images is null || _images.Backend != network.Backend) _images = new Tensor(network.Backend, batchSize, 1, split.Height, split.Width);
        _images.Reshape(count, 1, split.Height, split.Width);
        if (_hostImages.Length < _images.Length) _hostImages = new float[Math.Max(count, batchSize) * split.ImageSize];
        if (_labels.Length < count) _labels = new int[Math.Max(count, batchSize)];
        var pixels = _hostImages.AsSpan(0, _images.Length);
        loader.FillRange(start, count, pixels, _labels.AsSpan(0, count));
        return pixels;
    }

    private Span<float> Download(Tensor probabilities, int length)
    {
        if (_probabilities.Length < length) _probabilities = new float[length];
        var host = _probabilities.AsSpan(0, length);
        probabilities.CopyToHost(host);
        return host;
    }

    /// <summary>The confusion matrix, loss and mistakes gathered batch by batch.</summary>
    private sealed class Tally(int mistakesKept)
    {
        private int[,]? _confusion;
        private double _lossSum;
        private readonly List<Mistake> _mistakes = [];

        public void Add(int start, int count, int classes, ReadOnlySpan<float> probabilities, int[] labels, double lossSum)
        {
            _lossSum += lossSum;
            _confusion ??= new int[classes, classes];
            for (int i = 0; i < count; i++)
            {
                var row = probabilities.Slice(i * classes, classes);
                int predicted = SoftmaxCrossEntropy.ArgMax(row);
                _confusion[labels[i], predicted]++;
                if (predicted != labels[i]) _mistakes.Add(new Mistake(start + i, labels[i], predicted, row[predicted]));
            }
        }

        public EvaluationResult Result(int count)
        {
            var worst = _mistakes.OrderByDescending(m => m.Confidence).ThenBy(m => m.Index).Take(mistakesKept).ToList();
            return new EvaluationResult(count == 0 ? 0 : _lossSum / count, _confusion ?? new int[10, 10], worst);
        }
    }
}
