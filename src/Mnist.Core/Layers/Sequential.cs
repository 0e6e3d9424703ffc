using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>
/// Layers applied in order; backward runs them in reverse. Setting
/// <see cref="Layer.ComputeInputGradient"/> to false passes it on to the first layer, so a model
/// skips the gradient with respect to its images.
/// </summary>
/// <remarks>
/// A ReLU followed by max pooling runs pooling first: max(relu(x)) = relu(max(x)), so the ReLU and
/// its backward touch a quarter of the values (2×2 windows) and never the full-size activation.
/// The bits stay the same: where a window's maximum is positive both orders pick the same winner
/// and pass its gradient; where it is not, both give +0 everywhere. A convolution then directly
/// followed by max pooling runs the two layers as one pair (<see cref="Conv2D.ForwardPooled"/>,
/// <see cref="Conv2D.BackwardPooled"/>), fused where the backend has kernels for them.
/// </remarks>
public sealed class Sequential : Layer, ICompositeLayer
{
    private readonly Layer[] _layers;
    /// <summary>The order the layers run in: theirs, but for each ReLU–max-pool pair swapped.</summary>
    private readonly int[] _order;
    /// <summary>Whether the layer at step s of the order is a convolution whose output step s + 1 max-pools.</summary>
    private readonly bool[] _pooledConv;

    public Sequential(IEnumerable<Layer> layers)
    {
        _layers = [.. layers];
        if (_layers.Length == 0) throw new ArgumentException("a sequential model needs at least one layer");
        _order = RunOrder(_layers);
        _pooledConv = new bool[_order.Length];
        for (int s = 0; s + 1 < _order.Length; s++)
            _pooledConv[s] = _layers[_order[s]] is Conv2D && _layers[_order[s + 1]] is MaxPool2D;
    }

    private static int[] RunOrder(Layer[] layers)
    {
        var order = new int[layers.Length];
        for (int i = 0; i < layers.Length; i++) order[i] = i;
        for (int i = 0; i + 1 < layers.Length; i++)
            if (layers[i] is ReLU && layers[i + 1] is MaxPool2D)
            {
                (order[i], order[i + 1]) = (i + 1, i);
                i++;
            }
        return order;
    }

    public Sequential(params Layer[] layers) : this((IEnumerable<Layer>)layers) { }

    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Its first layer's (the builder puts every layer on one backend).</summary>
    public override Backend Backend => _layers[0].Backend;

    public IEnumerable<(string Name, Layer Layer)> Children
    {
        get
        {
            for (int i = 0; i < _layers.Length; i++) yield return (i.ToString(), _layers[i]);
        }
    }

    public override IEnumerable<Parameter> Parameters
    {
        get
        {
            foreach (var layer in _layers)
                foreach (var p in layer.Parameters) yield return p;
        }
    }

    public override IEnumerable<(string Name, Tensor Value)> Buffers => LayerTree.NamedBuffers(this);

    /// <summary>Parameters with unique dotted names ("0.weight", "0.bias", ...).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters => LayerTree.NamedParameters(this);

    public long ParameterCount => LayerTree.ParameterCount(this);

    public override int[] OutputShape(int[] inputShape)
    {
        var shape = inputShape;
        foreach (var layer in _layers) shape = layer.OutputShape(shape);
        return shape;
    }

    public override Tensor Forward(Tensor input, bool training)
    {
        var x = input;
        for (int s = 0; s < _order.Length; s++)
        {
            if (_pooledConv[s])
            {
                x = ((Conv2D)_layers[_order[s]]).ForwardPooled(x, (MaxPool2D)_layers[_order[s + 1]], training);
                s++;
            }
            else x = _layers[_order[s]].Forward(x, training);
        }
        return x;
    }

    public override Tensor Backward(Tensor gradOutput)
    {
        _layers[_order[0]].ComputeInputGradient = ComputeInputGradient;
        var g = gradOutput;
        for (int s = _order.Length - 1; s >= 0; s--)
        {
            if (s > 0 && _pooledConv[s - 1])
            {
                g = ((Conv2D)_layers[_order[s - 1]]).BackwardPooled(g, (MaxPool2D)_layers[_order[s]]);
                s--;
            }
            else g = _layers[_order[s]].Backward(g);
        }
        return g;
    }

    public override string ToString() => $"Sequential({_layers.Length} layers)";
}
