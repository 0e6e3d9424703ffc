using Mnist.Core.Backends;
using Mnist.Core.Tensors;

namespace Mnist.Core.Layers;

/// <summary>A trainable tensor and the gradient the last backward pass wrote for it.</summary>
public sealed class Parameter(string name, Tensor value)
{
    public string Name { get; } = name;
    public Tensor Value { get; } = value;
    /// <summary>Same shape, on the same backend as the value.</summary>
    public Tensor Grad { get; } = new(value.Backend, value.Shape.ToArray());
    /// <summary>Whether L1/L2 weight penalties apply (weights yes; biases and norm scales no).</summary>
    public bool Decay { get; init; } = true;
}

/// <summary>
/// One step of the network. Forward keeps what backward needs; backward writes the parameter
/// gradients (overwriting, not accumulating) and returns the gradient with respect to the input.
/// Tensors returned are buffers owned by the layer and reused on the next call.
/// Shapes include the batch as the first axis. A layer computes on the backend it was built for
/// (the CPU unless given another), where its parameters and buffers live; its inputs must too.
/// </summary>
public abstract class Layer(Backend? backend = null)
{
    private readonly Backend _backend = backend ?? Backend.Cpu;

    /// <summary>Where the layer's tensors live and its kernels run.</summary>
    public virtual Backend Backend => _backend;

    /// <summary>
    /// False for the network's first layer: nothing consumes the gradient with respect to the
    /// images, so layers may skip computing it (Backward then returns an unspecified tensor).
    /// </summary>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>Output shape for one sample of the given shape (batch axis excluded).</summary>
    public abstract int[] OutputShape(int[] inputShape);

    public abstract Tensor Forward(Tensor input, bool training);

    public abstract Tensor Backward(Tensor gradOutput);

    public virtual IEnumerable<Parameter> Parameters => [];

    /// <summary>Non-trainable state saved with the model (batch-norm running statistics).</summary>
    public virtual IEnumerable<(string Name, Tensor Value)> Buffers => [];
}
