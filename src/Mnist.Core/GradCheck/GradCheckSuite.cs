using System.Diagnostics;
using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>
/// Every layer, activation, the loss and whole networks against numerical gradients: the one
/// list the tests and <c>mnist gradcheck</c> both run. The layer cases are those each layer kind
/// declares (<see cref="LayerKind"/>). Each case builds its layer and inputs afresh from fixed
/// seeds, so a run is repeatable and cases do not share state.
/// </summary>
public static class GradCheckSuite
{
    public const string Float32Layers = "layers (float32 differences)";
    public const string Float64Layers = "layers (float64 reference)";
    public const string Loss = "loss";
    public const string Networks = "networks";

    private static Layer Randomized(LayerCheck c, Backend backend) => RandomInputs.RandomizeParameters(c.Make(backend), 11, 0.5f);

    private static IEnumerable<GradCheckCase> Build(Backend backend)
    {
        var layers = LayerKinds.All.SelectMany(k => k.Checks).ToList();

        foreach (var c in layers)
            yield return new(c.Name, Float32Layers, () =>
            {
                var layer = Randomized(c, backend);
                Action? reset = c.BeforeForward is { } before ? () => before(layer) : null;
                return GradientChecker.CheckLayer(layer, c.Input().To(backend), c.Training, c.Options, reset);
            });

        foreach (var c in layers)
            yield return new(c.Name, Float64Layers, () => GradientChecker.CheckLayerFloat64(Randomized(c, backend), c.Input().To(backend), c.Training));

        yield return new("softmax cross-entropy", Loss, () =>
            GradientChecker.CheckLoss(RandomInputs.Gaussian(5, 0f, 4, 10).To(backend), [3, 0, 9, 3]));
        yield return new("softmax cross-entropy with a confident wrong prediction", Loss, () =>
            GradientChecker.CheckLoss(new Tensor([8f, -3f, 1f, 0.5f, 0.2f, -0.1f], 2, 3).To(backend), [1, 2]));
        yield return new("softmax cross-entropy with label smoothing 0.1", Loss, () =>
            GradientChecker.CheckLoss(RandomInputs.Gaussian(6, 0f, 4, 10).To(backend), [3, 0, 9, 3], smoothing: 0.1f));
        yield return new("softmax cross-entropy with label smoothing 0.3 and a confident prediction", Loss, () =>
            GradientChecker.CheckLoss(new Tensor([8f, -3f, 1f, 0.5f, 0.2f, -0.1f], 2, 3).To(backend), [0, 2], smoothing: 0.3f));

        yield return new("classic network vs the float64 reference, batch 2, training with a dropout mask", Networks, () =>
        {
            var model = ModelBuilder.Build(Presets.Create("classic"), 1, backend);
            var x = RandomInputs.Uniform(21, 0f, 1f, 2, 1, 28, 28).To(backend);
            var options = new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 16 };
            return GradientChecker.CheckModelFloat64(model, x, [3, 7], true, options);
        }, Tensors: 9); // 8 parameter tensors and the input
        yield return new("light network with label smoothing 0.1 vs the float64 reference, batch 3", Networks, () =>
        {
            var model = ModelBuilder.Build(Presets.Create("light"), 3, backend);
            var x = RandomInputs.Uniform(23, 0f, 1f, 3, 1, 28, 28).To(backend);
            var options = new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 8 };
            return GradientChecker.CheckModelFloat64(model, x, [2, 5, 8], true, options, smoothing: 0.1f);
        });
        yield return new("resnet preset (width 0.25) vs the float64 reference, batch 3, batch norm in training", Networks, () =>
        {
            var model = ModelBuilder.Build(Presets.Create("resnet", 0.25), 2, backend);
            var x = RandomInputs.Uniform(22, 0f, 1f, 3, 1, 28, 28).To(backend);
            var options = new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 6 };
            return GradientChecker.CheckModelFloat64(model, x, [1, 4, 1], true, options);
        });
        yield return new("resnet preset (width 0.25, swish) checked in float32 alone", Networks, () =>
        {
            // Without the reference, float32 rounding of a long forward pass (~1e-7 of the loss)
            // limits the smallest elements: a large step with Richardson extrapolation, judged
            // per tensor vector.
            var model = ModelBuilder.Build(Presets.Create("resnet", 0.25, "swish"), 2, backend);
            var x = RandomInputs.Uniform(22, 0f, 1f, 3, 1, 28, 28).To(backend);
            var options = new GradCheckOptions { Richardson = true, ByVector = true, Tolerance = 1e-2, MaxSamples = 6 };
            return GradientChecker.CheckModel(model, x, [1, 4, 1], true, options);
        });
    }

    /// <summary>Every case on the CPU, in the order the tests list them.</summary>
    public static IReadOnlyList<GradCheckCase> Cases { get; } = For(Backend.Cpu);

    /// <summary>Every case, its layers and inputs on <paramref name="backend"/>.</summary>
    public static IReadOnlyList<GradCheckCase> For(Backend backend) => Build(backend).ToList();

    /// <summary>
    /// Runs the cases that match <paramref name="filter"/> (see <see cref="GradCheckCase.Matches"/>)
    /// in order, on <paramref name="backend"/> (default: the CPU); a case that throws counts as
    /// failed. <paramref name="onEach"/> sees each outcome as it comes.
    /// </summary>
    public static IReadOnlyList<GradCheckOutcome> RunAll(Action<GradCheckOutcome>? onEach = null, string? filter = null,
        Backend? backend = null)
    {
        var outcomes = new List<GradCheckOutcome>();
        foreach (var c in backend is null ? Cases : For(backend))
        {
            if (!c.Matches(filter)) continue;
            var clock = Stopwatch.StartNew();
            GradCheckOutcome outcome;
            try
            {
                outcome = new(c, c.Run(), null, clock.Elapsed);
            }
            catch (Exception e)
            {
                outcome = new(c, null, e, clock.Elapsed);
            }
            onEach?.Invoke(outcome);
            outcomes.Add(outcome);
        }
        return outcomes;
    }
}
