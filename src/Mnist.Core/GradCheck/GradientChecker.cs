using Mnist.Core.Layers;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>A tensor to perturb and the analytic gradient of the loss with respect to it.</summary>
public sealed record GradTarget(string Name, Tensor Value, Tensor Analytic);

/// <summary>
/// Compares analytic gradients with central differences (L(v+ε) − L(v−ε)) / (2ε), evaluated in
/// float64 around the float32 values: one element is perturbed, the forward pass and loss rerun,
/// and the element restored. The step is the one float32 really takes, and the loss is summed in
/// double, so the remaining noise is the forward pass's own float32 rounding.
/// </summary>
public static class GradientChecker
{
    /// <summary>The general check: <paramref name="loss"/> reruns the forward pass on the current values.</summary>
    public static GradCheckReport Check(Func<double> loss, IReadOnlyList<GradTarget> targets, GradCheckOptions? options = null)
    {
        var o = options ?? new GradCheckOptions();
        var results = new List<GradCheckResult>(targets.Count);
        for (int t = 0; t < targets.Count; t++) results.Add(CheckTensor(loss, targets[t], o, o.Seed + (ulong)t * 7919));
        return new GradCheckReport(results);
    }

    /// <summary>
    /// Checks one layer (any layer, including a whole model) under the loss L = Σ r ⊙ y with a
    /// fixed random r: its parameters and, when it computes one, its input gradient.
    /// <paramref name="beforeForward"/> runs before every forward pass (to reset a dropout
    /// generator so every pass draws the same mask).
    /// </summary>
    public static GradCheckReport CheckLayer(Layer layer, Tensor input, bool training = true,
        GradCheckOptions? options = null, Action? beforeForward = null)
    {
        var o = options ?? new GradCheckOptions();
        beforeForward?.Invoke();
        var output = layer.Forward(input, training);
        var projection = new Tensor(output.Shape.ToArray());
        var rng = new Rng(o.Seed ^ 0x5EED_0F_0F_0Ful);
        var weights = projection.Span;
        for (int i = 0; i < weights.Length; i++) weights[i] = rng.NextGaussian();
        var targets = AnalyticTargets(layer, layer.Backward(projection), input);

        double Loss()
        {
            beforeForward?.Invoke();
            var y = layer.Forward(input, training).Span;
            var r = projection.Span;
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)r[i] * y[i];
            return sum;
        }
        return Check(Loss, targets, o);
    }

    /// <summary>Checks a model end to end under softmax cross-entropy on <paramref name="labels"/>.</summary>
    public static GradCheckReport CheckModel(Layer model, Tensor input, int[] labels, bool training = true,
        GradCheckOptions? options = null, Action? beforeForward = null)
    {
        var lossLayer = new SoftmaxCrossEntropy();
        beforeForward?.Invoke();
        lossLayer.Forward(model.Forward(input, training), labels);
        var targets = AnalyticTargets(model, model.Backward(lossLayer.Backward()), input);

        double Loss()
        {
            beforeForward?.Invoke();
            return CrossEntropy(model.Forward(input, training), labels);
        }
        return Check(Loss, targets, options);
    }

    /// <summary>Checks <see cref="SoftmaxCrossEntropy"/>'s backward against its own forward.</summary>
    public static GradCheckReport CheckLoss(Tensor logits, int[] labels, GradCheckOptions? options = null)
    {
        var loss = new SoftmaxCrossEntropy();
        loss.Forward(logits, labels);
        var analytic = loss.Backward().Clone();
        return Check(() => loss.Forward(logits, labels).MeanLoss, [new GradTarget("logits", logits, analytic)], options);
    }

    /// <summary>Mean cross-entropy computed in double from float logits (a reference for the model check).</summary>
    public static double CrossEntropy(Tensor logits, ReadOnlySpan<int> labels)
    {
        int batch = logits.Dim(0), classes = logits.Dim(1);
        var z = logits.Span;
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            var row = z.Slice(n * classes, classes);
            double max = double.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (float v in row) sum += Math.Exp(v - max);
            total += Math.Log(sum) + max - row[labels[n]];
        }
        return total / batch;
    }

    /// <summary>Snapshots the gradients Backward just wrote (later forward passes may reuse the buffers).</summary>
    private static List<GradTarget> AnalyticTargets(Layer layer, Tensor inputGradient, Tensor input)
    {
        var targets = new List<GradTarget>();
        foreach (var (name, p) in LayerTree.NamedParameters(layer))
            targets.Add(new GradTarget(name, p.Value, p.Grad.Clone()));
        if (layer.ComputeInputGradient)
        {
            if (!inputGradient.SameShape(input.Shape))
                throw new InvalidOperationException($"input gradient {inputGradient} does not match input {input}");
            targets.Add(new GradTarget("input", input, inputGradient.Clone()));
        }
        return targets;
    }

    private static GradCheckResult CheckTensor(Func<double> loss, GradTarget target, GradCheckOptions o, ulong seed)
    {
        var value = target.Value.Span;
        var analytic = target.Analytic.Span;
        if (analytic.Length != value.Length)
            throw new ArgumentException($"{target.Name}: gradient of {analytic.Length} elements for a value of {value.Length}");
        double scale = 0;
        int largest = 0;
        for (int i = 0; i < analytic.Length; i++)
            if (Math.Abs(analytic[i]) > scale) (scale, largest) = (Math.Abs(analytic[i]), i);
        double floor = Math.Max(o.FloorFraction * scale, 1e-30);

        var indices = SampleIndices(value.Length, o.MaxSamples, largest, seed);
        double worstError = 0, worstAnalytic = 0, worstNumeric = 0;
        int worstIndex = -1;
        foreach (int i in indices)
        {
            float original = value[i];
            float plus = (float)(original + o.Epsilon), minus = (float)(original - o.Epsilon);
            target.Value[i] = plus;
            double lossPlus = loss();
            target.Value[i] = minus;
            double lossMinus = loss();
            target.Value[i] = original;
            double numeric = (lossPlus - lossMinus) / ((double)plus - minus);
            double a = analytic[i];
            double error = Math.Abs(a - numeric) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(numeric)), floor);
            if (worstIndex < 0 || error > worstError || double.IsNaN(error))
            {
                (worstError, worstIndex, worstAnalytic, worstNumeric) = (error, i, a, numeric);
                if (double.IsNaN(error)) break;
            }
        }
        if (indices.Length > 0) loss(); // leave the layer's buffers as the unperturbed values give them
        return new GradCheckResult(target.Name, indices.Length, value.Length, worstError, worstIndex,
            worstAnalytic, worstNumeric, o.Tolerance);
    }

    /// <summary>All elements, or a seeded sample that always includes the largest gradient.</summary>
    private static int[] SampleIndices(int length, int maxSamples, int largest, ulong seed)
    {
        var all = new int[length];
        for (int i = 0; i < length; i++) all[i] = i;
        if (length <= maxSamples) return all;
        var rng = new Rng(seed);
        (all[0], all[largest]) = (all[largest], all[0]);
        // Partial Fisher–Yates over the rest: the first maxSamples slots are a uniform sample.
        for (int i = 1; i < maxSamples; i++)
        {
            int j = i + rng.NextInt(length - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        var picked = all.AsSpan(0, maxSamples).ToArray();
        Array.Sort(picked);
        return picked;
    }
}
