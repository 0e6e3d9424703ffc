using Mnist.Core.Layers;
using Mnist.Core.Losses;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>A tensor to perturb and the analytic gradient of the loss with respect to it.</summary>
public sealed record GradTarget(string Name, Tensor Value, Tensor Analytic);

/// <summary>
/// Compares analytic gradients with central differences (L(v+ε) − L(v−ε)) / (2ε), evaluated in
/// float64 around the float32 values: one element is perturbed, the forward pass and loss rerun,
/// and the element restored. The step is the one float32 really takes and the loss is summed in
/// double, so the remaining noise is the forward pass's own float32 rounding. Perturbations that
/// move a ReLU sign or a max-pool winner are detected and retried with a smaller step.
/// </summary>
public static class GradientChecker
{
    /// <summary>
    /// The general check. <paramref name="loss"/> reruns the forward pass on the current values;
    /// <paramref name="pieces"/>, if given, hashes the kink pattern that pass selected.
    /// </summary>
    public static GradCheckReport Check(Func<double> loss, IReadOnlyList<GradTarget> targets,
        GradCheckOptions? options = null, Func<ulong>? pieces = null)
    {
        var o = options ?? new GradCheckOptions();
        var probe = new Probe(loss, pieces);
        var results = new List<GradCheckResult>(targets.Count);
        for (int t = 0; t < targets.Count; t++) results.Add(CheckTensor(probe, targets[t], o, o.Seed + (ulong)t * 7919));
        loss(); // leave the buffers as the unperturbed values give them
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
        var (projection, r) = RandomProjection(layer.Forward(input, training), o.Seed);
        var targets = AnalyticTargets(layer, layer.Backward(projection), input);

        double Loss()
        {
            beforeForward?.Invoke();
            var y = layer.Forward(input, training).ToArray();
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)r[i] * y[i];
            return sum;
        }
        return Check(Loss, targets, o, () => PiecePattern(layer));
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
        return Check(Loss, targets, options, () => PiecePattern(model));
    }

    /// <summary>
    /// Checks a model end to end under softmax cross-entropy, with the numerical gradients taken
    /// from <see cref="Float64Reference"/> on the same weights instead of the float32 forward pass.
    /// The default step is 1e-6 (float64 differences are exact enough), which also makes kinks rare.
    /// </summary>
    public static GradCheckReport CheckModelFloat64(Layer model, Tensor input, int[] labels, bool training = true,
        GradCheckOptions? options = null, float smoothing = 0)
    {
        var o = options ?? new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3 };
        var lossLayer = new SoftmaxCrossEntropy(smoothing);
        var logits = model.Forward(input, training);
        int classes = logits.Dim(1);
        lossLayer.Forward(logits, labels);
        var targets = AnalyticTargets(model, model.Backward(lossLayer.Backward()), input);
        ulong pattern = 0;

        double Loss()
        {
            var (output, pieces) = Float64Reference.Forward(model, input, training);
            pattern = pieces;
            return Float64Reference.CrossEntropy(output, classes, labels, smoothing);
        }
        return Check(Loss, targets, o, () => pattern);
    }

    /// <summary>
    /// <see cref="CheckLayer"/> with the numerical side computed by <see cref="Float64Reference"/>
    /// (L = Σ r ⊙ y in float64). Default step 1e-6, tolerance 1e-3.
    /// </summary>
    public static GradCheckReport CheckLayerFloat64(Layer layer, Tensor input, bool training = true,
        GradCheckOptions? options = null)
    {
        var o = options ?? new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3 };
        var (projection, r) = RandomProjection(layer.Forward(input, training), o.Seed);
        var targets = AnalyticTargets(layer, layer.Backward(projection), input);
        ulong pattern = 0;

        double Loss()
        {
            var (y, pieces) = Float64Reference.Forward(layer, input, training);
            pattern = pieces;
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += r[i] * y[i];
            return sum;
        }
        return Check(Loss, targets, o, () => pattern);
    }

    /// <summary>Checks <see cref="SoftmaxCrossEntropy"/>'s backward (with label smoothing ε) against its own forward.</summary>
    public static GradCheckReport CheckLoss(Tensor logits, int[] labels, GradCheckOptions? options = null, float smoothing = 0)
    {
        var loss = new SoftmaxCrossEntropy(smoothing);
        loss.Forward(logits, labels);
        var analytic = loss.Backward().Clone();
        return Check(() => loss.Forward(logits, labels).MeanLoss, [new GradTarget("logits", logits, analytic)], options);
    }

    /// <summary>Mean cross-entropy computed in double from float logits (a reference for the model check).</summary>
    public static double CrossEntropy(Tensor logits, ReadOnlySpan<int> labels)
    {
        var wide = Array.ConvertAll(logits.ToArray(), v => (double)v);
        return Float64Reference.CrossEntropy(wide, logits.Dim(1), labels[..logits.Dim(0)]);
    }

    /// <summary>Hash of the ReLU signs and max-pool winners of every piecewise layer's last forward pass.</summary>
    public static ulong PiecePattern(Layer root)
    {
        ulong hash = 0;
        foreach (var leaf in LayerTree.Leaves(root))
            if (leaf is IPiecewise piecewise) hash = piecewise.HashPieces(hash);
        return hash;
    }

    /// <summary>The fixed random r of the loss L = Σ r ⊙ y: Gaussian, shaped like the layer's output, on its backend and on the host.</summary>
    private static (Tensor Device, float[] Host) RandomProjection(Tensor output, ulong seed)
    {
        var rng = new Rng(seed ^ 0x5EED_0F_0F_0Ful);
        var weights = new float[output.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = rng.NextGaussian();
        var projection = new Tensor(output.Backend, output.Shape.ToArray());
        projection.CopyFromHost(weights);
        return (projection, weights);
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

    private static GradCheckResult CheckTensor(Probe probe, GradTarget target, GradCheckOptions o, ulong seed)
    {
        var value = target.Value;
        var analytic = target.Analytic.ToArray();
        if (analytic.Length != value.Length)
            throw new ArgumentException($"{target.Name}: gradient of {analytic.Length} elements for a value of {value.Length}");
        double scale = 0;
        int largest = 0;
        for (int i = 0; i < analytic.Length; i++)
            if (Math.Abs(analytic[i]) > scale) (scale, largest) = (Math.Abs(analytic[i]), i);
        double floor = Math.Max(o.FloorFraction * scale, 1e-30);

        double worstError = 0, worstAnalytic = 0, worstNumeric = 0;
        double diffSquares = 0, analyticSquares = 0, numericSquares = 0;
        int worstIndex = -1, compared = 0, oneSided = 0, skipped = 0;
        foreach (int i in SampleIndices(value.Length, o.MaxSamples, largest, seed))
        {
            var (numeric, kind) = probe.Derivative(target.Value, i, o);
            if (kind == Estimate.Skipped)
            {
                skipped++;
                continue;
            }
            if (kind == Estimate.OneSided) oneSided++;
            compared++;
            double a = analytic[i];
            double error = Math.Abs(a - numeric) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(numeric)), floor);
            diffSquares += (a - numeric) * (a - numeric);
            analyticSquares += a * a;
            numericSquares += numeric * numeric;
            if (worstIndex < 0 || error > worstError || double.IsNaN(error))
                (worstError, worstIndex, worstAnalytic, worstNumeric) = (error, i, a, numeric);
        }
        double vectorError = diffSquares == 0 ? 0
            : Math.Sqrt(diffSquares) / Math.Max(Math.Sqrt(Math.Max(analyticSquares, numericSquares)), 1e-30);
        if (double.IsNaN(worstError)) vectorError = double.NaN;
        return new GradCheckResult(target.Name, compared, value.Length, worstError, worstIndex,
            worstAnalytic, worstNumeric, o.Tolerance, vectorError, o.ByVector, oneSided, skipped);
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

    private enum Estimate { Central, OneSided, Skipped }

    /// <summary>Runs the loss at perturbed values and tells whether the kink pattern stayed put.</summary>
    private sealed class Probe
    {
        private readonly Func<double> _loss;
        private readonly Func<ulong>? _pieces;
        private readonly double _unperturbed;
        private readonly ulong _pattern;

        public Probe(Func<double> loss, Func<ulong>? pieces)
        {
            _loss = loss;
            _pieces = pieces;
            _unperturbed = loss();
            _pattern = pieces?.Invoke() ?? 0;
        }

        public (double Value, Estimate Kind) Derivative(Tensor value, int i, GradCheckOptions o)
        {
            double step = o.Epsilon;
            for (int attempt = 0; ; attempt++, step /= 4)
            {
                var (lossPlus, up, plusClean) = Evaluate(value, i, step);
                var (lossMinus, down, minusClean) = Evaluate(value, i, -step);
                if (plusClean && minusClean)
                {
                    double central = (lossPlus - lossMinus) / (up + down);
                    if (!o.Richardson) return (central, Estimate.Central);
                    var (halfPlus, halfUp, halfPlusClean) = Evaluate(value, i, step / 2);
                    var (halfMinus, halfDown, halfMinusClean) = Evaluate(value, i, -step / 2);
                    if (!(halfPlusClean && halfMinusClean)) return (central, Estimate.Central);
                    double half = (halfPlus - halfMinus) / (halfUp + halfDown);
                    return ((4 * half - central) / 3, Estimate.Central);
                }
                if (attempt < o.KinkRetries) continue;
                if (plusClean) return ((lossPlus - _unperturbed) / up, Estimate.OneSided);
                if (minusClean) return ((_unperturbed - lossMinus) / down, Estimate.OneSided);
                return (double.NaN, Estimate.Skipped);
            }
        }

        /// <summary>Loss with element i moved by <paramref name="step"/>, the step float32 really took, and whether no kink moved.</summary>
        private (double Loss, double Step, bool Clean) Evaluate(Tensor value, int i, double step)
        {
            // One element down and up again: the tensor may live on any backend.
            value.CopyToHost(_element, i);
            float original = _element[0];
            float moved = (float)(original + step);
            // A step below half an ulp would round away: take the neighbouring float instead.
            if (moved == original) moved = step > 0 ? MathF.BitIncrement(original) : MathF.BitDecrement(original);
            _element[0] = moved;
            value.CopyFromHost(_element, i);
            double loss = _loss();
            bool clean = _pieces is null || _pieces() == _pattern;
            _element[0] = original;
            value.CopyFromHost(_element, i);
            return (loss, Math.Abs((double)moved - original), clean);
        }

        private readonly float[] _element = new float[1];
    }
}
