using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>A layer made of named sub-layers (Sequential, ResidualBlock).</summary>
public interface ICompositeLayer
{
    IEnumerable<(string Name, Layer Layer)> Children { get; }
}

/// <summary>
/// Dotted names for the parameters and buffers of nested layers ("3.weight", "4.conv1.weight",
/// "4.bn1.running_mean"), unique across a model, for saving and for optimiser state.
/// </summary>
public static class LayerTree
{
    public static IEnumerable<(string Name, Parameter Parameter)> NamedParameters(Layer root, string prefix = "")
    {
        if (root is ICompositeLayer composite)
        {
            foreach (var (name, child) in composite.Children)
                foreach (var named in NamedParameters(child, prefix + name + "."))
                    yield return named;
        }
        else
        {
            foreach (var p in root.Parameters) yield return (prefix + p.Name, p);
        }
    }

    public static IEnumerable<(string Name, Tensor Value)> NamedBuffers(Layer root, string prefix = "")
    {
        if (root is ICompositeLayer composite)
        {
            foreach (var (name, child) in composite.Children)
                foreach (var named in NamedBuffers(child, prefix + name + "."))
                    yield return named;
        }
        else
        {
            foreach (var (name, value) in root.Buffers) yield return (prefix + name, value);
        }
    }

    /// <summary>Every leaf layer, depth first.</summary>
    public static IEnumerable<Layer> Leaves(Layer root)
    {
        if (root is ICompositeLayer composite)
        {
            foreach (var (_, child) in composite.Children)
                foreach (var leaf in Leaves(child)) yield return leaf;
        }
        else yield return root;
    }

    public static long ParameterCount(Layer root)
    {
        long n = 0;
        foreach (var p in root.Parameters) n += p.Value.Length;
        return n;
    }
}
