using System.Diagnostics;
using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>
/// Every layer, activation, the loss and whole networks against numerical gradients: the one
/// list the tests and <c>mnist gradcheck</c> both run. Each case builds its layer and inputs
/// afresh from fixed seeds, so a run is repeatable and cases do not share state.
/// </summary>
public static class GradCheckSuite
{
    public const string Float32Layers = "layers (float32 differences)";
    public const string Float64Layers = "layers (float64 reference)";
    public const string Loss = "loss";
    public const string Networks = "networks";

    /// <summary>A layer to check: how to make it, its input, and the float32 check's options.</summary>
    private sealed record LayerCase(string Name, Func<Layer> Make, Func<Tensor> Input, bool Training = true,
        GradCheckOptions? Options = null);

    /// <summary>Gaussian input, clear of kinks by <paramref name="margin"/>.</summary>
    private static Func<Tensor> Gaussian(float margin, params int[] shape) => () => RandomInputs.Gaussian(7, margin, shape);

    /// <summary>
    /// Blocks chain five float32 layers: their rounding (and, at ReLU, kinks the checker steps
    /// around) costs about a percent on small elements, so 2%. The float64 list holds them to 1e-3.
    /// </summary>
    private static readonly GradCheckOptions Block = new() { Tolerance = 2e-2 };

    private static readonly string[] ActivationNames = ["relu", "leakyrelu", "elu", "swish", "sigmoid", "tanh"];

    private static IEnumerable<LayerCase> LayerCases()
    {
        yield return new("conv2d 3x3 stride 1 pad 1", () => new Conv2D(2, 3, 3, 1, 1), Gaussian(0f, 2, 2, 5, 5));
        yield return new("conv2d 5x5 stride 2 pad 2", () => new Conv2D(2, 3, 5, 2, 2), Gaussian(0f, 2, 2, 7, 6));
        yield return new("conv2d 1x1 stride 2 without bias", () => new Conv2D(3, 2, 1, 2, 0, false), Gaussian(0f, 2, 3, 5, 5));
        yield return new("conv2d 2x2 stride 3 no pad", () => new Conv2D(1, 2, 2, 3, 0), Gaussian(0f, 3, 1, 8, 8));
        yield return new("dense", () => new Dense(7, 5), Gaussian(0f, 3, 7));
        yield return new("dense on an image-shaped input", () => new Dense(12, 4), Gaussian(0f, 2, 3, 2, 2));
        yield return new("flatten", () => new Flatten(), Gaussian(0f, 2, 3, 2, 2));
        // A shuffled ramp: no near-ties inside a pooling window.
        yield return new("maxpool 2x2 stride 2", () => new MaxPool2D(2), () => RandomInputs.ShuffledRamp(5, 0.05f, 2, 2, 6, 6));
        yield return new("maxpool 3x3 stride 2 (overlapping windows)", () => new MaxPool2D(3, 2), () => RandomInputs.ShuffledRamp(6, 0.05f, 2, 2, 7, 7));
        yield return new("avgpool 2x2", () => new AvgPool2D(2), Gaussian(0f, 2, 3, 4, 6));
        yield return new("avgpool 3x3 stride 1", () => new AvgPool2D(3, 1), Gaussian(0f, 2, 2, 5, 5));
        yield return new("dropout in evaluation", () => new Dropout(0.5f, new Rng(1)), Gaussian(0f, 3, 10), Training: false);
        yield return new("batchnorm1d in training", () => new BatchNorm1D(5), Gaussian(0f, 6, 5));
        yield return new("batchnorm2d in training", () => new BatchNorm2D(3), Gaussian(0f, 3, 3, 4, 4));
        yield return new("batchnorm2d in evaluation", TrainedBatchNorm2D, Gaussian(0f, 2, 3, 3, 3), Training: false);
        foreach (var name in ActivationNames)
            yield return new("activation " + name, () => Activations.Create(name, slope: 0.1f, alpha: 0.7f), Gaussian(0.1f, 3, 4, 2, 2));
        yield return new("residual block, identity shortcut, swish", () => new ResidualBlock(3, 3, 1, "swish"), Gaussian(0f, 2, 3, 5, 5), Options: Block);
        yield return new("residual block, projection stride 2, tanh", () => new ResidualBlock(2, 4, 2, "tanh"), Gaussian(0f, 2, 2, 6, 6), Options: Block);
        // ReLU kinks inside the block cannot be kept out of reach by the input: the checker sees
        // sign changes and shrinks its step there.
        yield return new("residual block, identity shortcut, relu", () => new ResidualBlock(2, 2, 1, "relu"), Gaussian(0f, 2, 2, 5, 5), Options: Block);
        yield return new("residual block, projection stride 2, relu", () => new ResidualBlock(2, 3, 2, "relu"), Gaussian(0f, 2, 2, 6, 6), Options: Block);
    }

    /// <summary>Batch norm with running statistics from one training pass, for its evaluation mode.</summary>
    private static Layer TrainedBatchNorm2D()
    {
        var bn = new BatchNorm2D(3);
        bn.Forward(RandomInputs.Gaussian(3, 0f, 4, 3, 3, 3), true);
        return bn;
    }

    private static Layer Randomized(LayerCase c) => RandomInputs.RandomizeParameters(c.Make(), 11, 0.5f);

    private static IEnumerable<GradCheckCase> Build()
    {
        var layers = LayerCases().ToList();

        foreach (var c in layers)
            yield return new(c.Name, Float32Layers, () => GradientChecker.CheckLayer(Randomized(c), c.Input(), c.Training, c.Options));
        yield return new("dropout in training with a fixed mask", Float32Layers, () =>
        {
            var rng = new Rng(9);
            var saved = rng.State;
            var layer = new Dropout(0.4f, rng);
            return GradientChecker.CheckLayer(layer, RandomInputs.Gaussian(4, 0f, 3, 20), beforeForward: () => rng.State = saved);
        });

        foreach (var c in layers)
            yield return new(c.Name, Float64Layers, () => GradientChecker.CheckLayerFloat64(Randomized(c), c.Input(), c.Training));
        yield return new("dropout in training (the reference reuses the layer's mask)", Float64Layers, () =>
            GradientChecker.CheckLayerFloat64(new Dropout(0.4f, new Rng(9)), RandomInputs.Gaussian(4, 0f, 3, 20)));

        yield return new("softmax cross-entropy", Loss, () =>
            GradientChecker.CheckLoss(RandomInputs.Gaussian(5, 0f, 4, 10), [3, 0, 9, 3]));
        yield return new("softmax cross-entropy with a confident wrong prediction", Loss, () =>
            GradientChecker.CheckLoss(new Tensor([8f, -3f, 1f, 0.5f, 0.2f, -0.1f], 2, 3), [1, 2]));

        yield return new("classic network vs the float64 reference, batch 2, training with a dropout mask", Networks, () =>
        {
            var model = ModelBuilder.Build(Presets.Create("classic"), 1);
            var x = RandomInputs.Uniform(21, 0f, 1f, 2, 1, 28, 28);
            var options = new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 16 };
            return GradientChecker.CheckModelFloat64(model, x, [3, 7], true, options);
        }, Tensors: 9); // 8 parameter tensors and the input
        yield return new("resnet preset (width 0.25) vs the float64 reference, batch 3, batch norm in training", Networks, () =>
        {
            var model = ModelBuilder.Build(Presets.Create("resnet", 0.25), 2);
            var x = RandomInputs.Uniform(22, 0f, 1f, 3, 1, 28, 28);
            var options = new GradCheckOptions { Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 6 };
            return GradientChecker.CheckModelFloat64(model, x, [1, 4, 1], true, options);
        });
        yield return new("resnet preset (width 0.25, swish) checked in float32 alone", Networks, () =>
        {
            // Without the reference, float32 rounding of a long forward pass (~1e-7 of the loss)
            // limits the smallest elements: a large step with Richardson extrapolation, judged
            // per tensor vector.
            var model = ModelBuilder.Build(Presets.Create("resnet", 0.25, "swish"), 2);
            var x = RandomInputs.Uniform(22, 0f, 1f, 3, 1, 28, 28);
            var options = new GradCheckOptions { Richardson = true, ByVector = true, Tolerance = 1e-2, MaxSamples = 6 };
            return GradientChecker.CheckModel(model, x, [1, 4, 1], true, options);
        });
    }

    /// <summary>Every case, in the order the tests list them.</summary>
    public static IReadOnlyList<GradCheckCase> Cases { get; } = Build().ToList();

    /// <summary>
    /// Runs the cases that match <paramref name="filter"/> (see <see cref="GradCheckCase.Matches"/>)
    /// in order; a case that throws counts as failed. <paramref name="onEach"/> sees each outcome
    /// as it comes.
    /// </summary>
    public static IReadOnlyList<GradCheckOutcome> RunAll(Action<GradCheckOutcome>? onEach = null, string? filter = null)
    {
        var outcomes = new List<GradCheckOutcome>();
        foreach (var c in Cases)
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
