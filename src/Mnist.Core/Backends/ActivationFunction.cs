namespace Mnist.Core.Backends;

/// <summary>The element-wise activations a backend computes (see <see cref="Layers.Activations"/>).</summary>
public enum ActivationOp
{
    /// <summary>max(x, 0).</summary>
    Relu,
    /// <summary>x for x &gt; 0, else Parameter·x.</summary>
    LeakyRelu,
    /// <summary>x for x &gt; 0, else Parameter·(eˣ − 1).</summary>
    Elu,
    /// <summary>x·σ(x).</summary>
    Swish,
    /// <summary>σ(x) = 1 / (1 + e⁻ˣ).</summary>
    Sigmoid,
    /// <summary>tanh x.</summary>
    Tanh,
}

/// <summary>An activation and its one parameter (LeakyReLU's slope, ELU's alpha; unused by the others).</summary>
public readonly record struct ActivationFunction(ActivationOp Op, float Parameter = 0f);
