using ILGPU;

namespace Mnist.Gpu.Kernels;

/// <summary>
/// Softmax cross-entropy: one thread per row (the CPU's arithmetic: exp in float, sums in float64),
/// then one group folds the rows' losses and hits in a fixed tree into the two scalars a step downloads.
/// </summary>
internal static class LossKernels
{
    /// <summary>
    /// Row n's probabilities, its loss −Σ t·log p with the smoothed target of Backend.SoftmaxCrossEntropy
    /// (−log p(label) when smoothing is 0) and whether its first maximum is the label.
    /// </summary>
    public static void Rows(Index1D n, int classes, float smoothing, ArrayView<float> logits, ArrayView<int> labels,
        ArrayView<float> probabilities, ArrayView<double> losses, ArrayView<int> hits)
    {
        int start = n * classes, best = 0;
        for (int j = 1; j < classes; j++) if (logits[start + j] > logits[start + best]) best = j;
        float max = logits[start + best];
        double sum = 0;
        for (int j = 0; j < classes; j++)
        {
            float e = MathF.Exp(logits[start + j] - max);
            probabilities[start + j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < classes; j++) probabilities[start + j] *= inv;
        int label = labels[n];
        double target = (double)logits[start + label] - max;
        if (smoothing != 0)
        {
            double all = 0;
            for (int j = 0; j < classes; j++) all += (double)logits[start + j] - max;
            target = (1 - (double)smoothing) * target + (double)smoothing / classes * all;
        }
        losses[n] = Math.Log(sum) - target;
        hits[n] = best == label ? 1 : 0;
    }

    /// <summary>result = [mean loss, hits], one group.</summary>
    public static void Total(int batch, ArrayView<double> losses, ArrayView<int> hits, ArrayView<float> result)
    {
        int t = Group.IdxX;
        double loss = 0, hit = 0;
        for (int n = t; n < batch; n += Group.DimX)
        {
            loss += losses[n];
            hit += hits[n];
        }
        loss = Reduce.Sum(loss);
        hit = Reduce.Sum(hit);
        if (t != 0) return;
        result[0] = (float)(loss / batch);
        result[1] = (float)hit;
    }

    /// <summary>
    /// gradient = (p − t) / batch in the CPU's float32 steps: p·inv − spread everywhere, less hit at
    /// the label (spread = ε·inv/K, hit = (1 − ε)·inv; with ε = 0, p·inv and p·inv − inv).
    /// </summary>
    public static void Backward(Index1D i, int classes, float inv, float spread, float hit, ArrayView<float> probabilities,
        ArrayView<int> labels, ArrayView<float> gradient)
    {
        float d = probabilities[i] * inv - spread;
        gradient[i] = labels[i / classes] == i % classes ? d - hit : d;
    }
}
