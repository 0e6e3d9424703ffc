using Mnist.Core.Backends;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.GradCheck;

/// <summary>
/// A gradient check a layer kind declares (see <see cref="Models.LayerKind"/>): how to make a
/// small layer on a backend and its input (on the CPU; the suite moves it), whether it runs in
/// training, the float32 check's options, and what to reset before every forward pass (a dropout
/// generator, so every pass draws the same mask).
/// <see cref="GradCheckSuite"/> runs each in float32 differences and against the float64 reference.
/// </summary>
internal sealed record LayerCheck(string Name, Func<Backend, Layer> Make, Func<Tensor> Input, bool Training = true,
    GradCheckOptions? Options = null, Action<Layer>? BeforeForward = null)
{
    /// <summary>Standard normal input from the suite's seed, clear of kinks by <paramref name="margin"/>.</summary>
    public static Func<Tensor> Gaussian(float margin, params int[] shape) => () => RandomInputs.Gaussian(7, margin, shape);
}
