using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Bench;

/// <summary>
/// Where a preset's training step goes, layer by layer: each layer of the network (and each layer
/// inside a residual block) run alone on a batch of 64 random inputs of its shape, Forward in
/// training mode and then Backward, timed with <see cref="Program.Median"/>. The first layer
/// computes no input gradient, as in training; the network's own fusions (a convolution with the
/// max pooling after it, in <see cref="Sequential"/>) are not applied, so the sum is an upper bound
/// of the step. Compare a layer's milliseconds with its share of the multiply-adds to see which
/// shapes run below the kernels' rate. Use with --threads 1 --cpu-time; with a cold cache (each call
/// after 128 MB were read, <see cref="Program.MedianCold"/>) the passes that stream activations show
/// what they cost in a network whose activations do not fit in the cache.
/// </summary>
internal static class LayerBench
{
    private const int Batch = 64;

    public static void Run(string preset, bool coldCache)
    {
        Func<Action, double> time = coldCache ? Program.MedianCold : action => Program.Median(action);
        var model = ModelBuilder.Build(Presets.Create(preset), seed: 1);
        var layers = Flatten(model).ToList();
        layers[0].Layer.ComputeInputGradient = false;
        Console.WriteLine($"Layers of {preset}, batch {Batch}, each alone{(coldCache ? ", cold cache" : "")}");
        Console.WriteLine($"  {"layer",-38} {"input",-14} forward ms  backward ms   share");
        int seed = 1;
        var rows = new List<(string Name, int[] Shape, double Forward, double Backward)>();
        foreach (var (name, layer, shape) in layers)
        {
            var x = Random([Batch, .. shape], seed++, 1f);
            var y = layer.Forward(x, true);
            var dy = Random(y.Shape.ToArray(), seed++, 0.01f);
            double forward = time(() => layer.Forward(x, true));
            layer.Forward(x, true);
            double backward = time(() => layer.Backward(dy));
            rows.Add((name, shape, forward, backward));
        }
        double total = rows.Sum(r => r.Forward + r.Backward);
        foreach (var (name, shape, forward, backward) in rows)
            Console.WriteLine($"  {name,-38} {string.Join('×', shape),-14} {forward * 1e3,9:F3}  {backward * 1e3,11:F3}  {(forward + backward) / total,6:P1}");
        Console.WriteLine($"  sum {total * 1e3:F2} ms per batch ({Batch / total:F0} images/s)");
    }

    /// <summary>The layers in order with their per-image input shapes; a residual block's own layers in its place.</summary>
    private static IEnumerable<(string Name, Layer Layer, int[] Shape)> Flatten(Sequential model)
    {
        int[] shape = [1, 28, 28];
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            if (layer is ResidualBlock block)
            {
                // The shortcut's layers start from the block's input; the main path's from the previous layer's output.
                int[] shortcut = shape;
                foreach (var (name, inner) in block.Children)
                {
                    bool onShortcut = name.StartsWith("shortcut.");
                    int[] from = onShortcut ? shortcut : shape;
                    yield return ($"{i} residual {block.InChannels}→{block.OutChannels} {name}", inner, from);
                    if (onShortcut) shortcut = inner.OutputShape(from);
                    else shape = inner.OutputShape(from);
                }
                continue;
            }
            yield return ($"{i} {layer}", layer, shape);
            shape = layer.OutputShape(shape);
        }
    }

    /// <summary>Uniform values in [−scale, scale] (<see cref="Program.Random"/>) of the given shape.</summary>
    private static Tensor Random(int[] shape, int seed, float scale)
    {
        var data = Program.Random(shape.Aggregate(1, (a, b) => a * b), seed);
        for (int i = 0; i < data.Length; i++) data[i] *= scale;
        return new Tensor(data, shape);
    }
}
