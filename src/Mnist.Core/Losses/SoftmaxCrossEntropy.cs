using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Losses;

/// <summary>What one forward pass of the loss measured.</summary>
public readonly record struct LossResult(float MeanLoss, int Correct, int Count)
{
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>
/// Softmax followed by cross-entropy on integer labels, fused so it is stable for any logits:
/// loss = log Σ exp(z − max) − (z_label − max). Forward also counts argmax hits, so training
/// gets its accuracy for free; backward gives (softmax − onehot)/N. With label smoothing ε the
/// one-hot target becomes ε/K + (1 − ε)·onehot over K classes (PyTorch's label_smoothing; the
/// exact arithmetic is <see cref="Backend.SoftmaxCrossEntropy"/>'s). It computes on the logits'
/// backend: the labels go up (checked first, on the host) and the loss and hit count come down.
/// </summary>
public sealed class SoftmaxCrossEntropy
{
    /// <param name="smoothing">Label smoothing ε in [0, 1); 0 is the plain cross-entropy.</param>
    public SoftmaxCrossEntropy(float smoothing = 0)
    {
        if (!(smoothing >= 0 && smoothing < 1)) throw new MnistException($"label smoothing must be in [0, 1), got {smoothing}");
        Smoothing = smoothing;
    }

    /// <summary>Label smoothing ε (0: none).</summary>
    public float Smoothing { get; }

    private Tensor _probabilities = new(0);
    private Tensor _gradient = new(0);
    private IndexBuffer _labels = new(Backend.Cpu);
    private int[] _hostLabels = [];
    private int _batch, _classes;

    /// <summary>Softmax of the last forward's logits, [N, classes], on their backend.</summary>
    public Tensor Probabilities => _probabilities;

    public LossResult Forward(Tensor logits, ReadOnlySpan<int> labels)
    {
        Begin(logits, labels.Length);
        for (int n = 0; n < _batch; n++) _hostLabels[n] = CheckLabel(labels[n], n);
        return Compute(logits);
    }

    /// <summary>The same with labels as stored in IDX files.</summary>
    public LossResult Forward(Tensor logits, ReadOnlySpan<byte> labels)
    {
        Begin(logits, labels.Length);
        for (int n = 0; n < _batch; n++) _hostLabels[n] = CheckLabel(labels[n], n);
        return Compute(logits);
    }

    /// <summary>d(mean loss)/d(logits) = (softmax − target)/N, in a buffer this loss owns.</summary>
    public Tensor Backward()
    {
        if (_batch == 0 && _classes == 0) throw new InvalidOperationException("Backward before Forward");
        var g = _gradient.SameShape(_probabilities.Shape) ? _gradient : _gradient.Reshape(_probabilities.Shape.ToArray());
        g.Backend.SoftmaxCrossEntropyBackward(_probabilities, _labels, _batch, _classes, Smoothing, g);
        return g;
    }

    private void Begin(Tensor logits, int labelCount)
    {
        if (logits.Rank != 2) throw new MnistException($"the loss expects logits [batch, classes] but got {Tensor.ShapeText(logits.Shape)}");
        if (labelCount != logits.Dim(0)) throw new MnistException($"{labelCount} labels for a batch of {logits.Dim(0)}");
        if (logits.Dim(0) == 0) throw new MnistException("the loss needs a non-empty batch");
        _batch = logits.Dim(0);
        _classes = logits.Dim(1);
        if (logits.Backend != _probabilities.Backend)
            (_probabilities, _gradient, _labels) = (new(logits.Backend, 0), new(logits.Backend, 0), new(logits.Backend));
        if (!_probabilities.SameShape(logits.Shape)) _probabilities.Reshape(logits.Shape.ToArray());
        if (_hostLabels.Length < _batch) _hostLabels = new int[_batch];
    }

    private int CheckLabel(int label, int n) =>
        (uint)label < (uint)_classes ? label : throw new MnistException($"label {label} of sample {n} is outside 0..{_classes - 1}");

    private LossResult Compute(Tensor logits)
    {
        _labels.CopyFromHost(_hostLabels.AsSpan(0, _batch));
        return logits.Backend.SoftmaxCrossEntropy(logits, _labels, _batch, _classes, Smoothing, _probabilities);
    }

    /// <summary>Index of the largest value (the first one on ties): the predicted class.</summary>
    public static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }

    /// <summary>
    /// Softmax of one row of logits into <paramref name="probabilities"/>, stable because the
    /// largest logit <paramref name="max"/> is subtracted first; returns Σ exp(z − max) (≥ 1).
    /// </summary>
    public static double Softmax(ReadOnlySpan<float> row, float max, Span<float> probabilities)
    {
        double sum = 0;
        for (int j = 0; j < row.Length; j++)
        {
            float e = MathF.Exp(row[j] - max);
            probabilities[j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < row.Length; j++) probabilities[j] *= inv;
        return sum;
    }
}
