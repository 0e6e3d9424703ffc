using Mnist.Core.Layers;
using Mnist.Core.Models;
using Mnist.Core.Tensors;

namespace Mnist.Core.IO.Onnx;

/// <summary>A value of the graph being built: its name and its per-sample shape (batch axis excluded).</summary>
public readonly record struct OnnxValue(string Name, int[] Shape);

/// <summary>
/// Writes layers into an <see cref="OnnxGraph"/> as they compute in evaluation: each registered
/// kind writes its own nodes (<see cref="LayerKind"/>), a sequence writes its layers in order.
/// Weights are downloaded from the layer's backend and named as the model file names them
/// ("0.weight", "4.bn1.running_mean"), so a graph reads like the model it came from.
/// </summary>
public sealed class OnnxExporter(OnnxGraph graph)
{
    public OnnxGraph Graph { get; } = graph;

    /// <summary>The output of <paramref name="layer"/>, named <paramref name="name"/> in the model, on input <paramref name="x"/>.</summary>
    public OnnxValue Run(Layer layer, OnnxValue x, string name)
    {
        if (layer is Sequential sequence)
        {
            for (int i = 0; i < sequence.Layers.Count; i++) x = Run(sequence.Layers[i], x, Child(name, i.ToString()));
            return x;
        }
        var kind = LayerKinds.Of(layer) ?? throw new NotSupportedException($"no ONNX export for {layer}");
        return new(kind.ToOnnx(layer, this, x, name), layer.OutputShape(x.Shape));
    }

    /// <summary>A sub-layer's model name ("4" and "conv1" give "4.conv1").</summary>
    public static string Child(string name, string child) => name.Length == 0 ? child : $"{name}.{child}";

    /// <summary>A weight of layer <paramref name="layerName"/> as an initializer named as in the model file; returns its name.</summary>
    public string Weight(string layerName, string weightName, Tensor value) =>
        Graph.Initializer(Child(layerName, weightName), value.ToArray(), Array.ConvertAll(value.Shape.ToArray(), d => (long)d));

    /// <inheritdoc cref="Weight(string, string, Tensor)"/>
    public string Weight(string layerName, Parameter parameter) => Weight(layerName, parameter.Name, parameter.Value);
}
