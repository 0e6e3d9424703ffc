using System.Text.Json.Serialization;

namespace Mnist.Core.Models;

/// <summary>
/// One layer of a <see cref="ModelConfig"/>, as data. In JSON the "type" field names the kind;
/// input channels and features are not written: the builder infers them from the shapes.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(Conv2DSpec), "conv2d")]
[JsonDerivedType(typeof(MaxPoolSpec), "maxpool")]
[JsonDerivedType(typeof(AvgPoolSpec), "avgpool")]
[JsonDerivedType(typeof(ActivationSpec), "activation")]
[JsonDerivedType(typeof(FlattenSpec), "flatten")]
[JsonDerivedType(typeof(DenseSpec), "dense")]
[JsonDerivedType(typeof(DropoutSpec), "dropout")]
[JsonDerivedType(typeof(BatchNormSpec), "batchnorm")]
[JsonDerivedType(typeof(ResidualSpec), "residual")]
public abstract record LayerSpec;

/// <summary>Convolution with <paramref name="Out"/> channels and a square kernel.</summary>
public sealed record Conv2DSpec(int Out, int Kernel = 3, int Stride = 1, int Pad = 0, bool Bias = true) : LayerSpec;

/// <summary>Max pooling; the stride defaults to the window size.</summary>
public sealed record MaxPoolSpec(int Size = 2, int? Stride = null) : LayerSpec;

/// <summary>Average pooling; the stride defaults to the window size.</summary>
public sealed record AvgPoolSpec(int Size = 2, int? Stride = null) : LayerSpec;

/// <summary>An activation by name (see <see cref="Layers.Activations.Names"/>); slope for leakyrelu, alpha for elu.</summary>
public sealed record ActivationSpec(string Name, float? Slope = null, float? Alpha = null) : LayerSpec;

public sealed record FlattenSpec : LayerSpec;

public sealed record DenseSpec(int Out) : LayerSpec;

public sealed record DropoutSpec(float P) : LayerSpec;

/// <summary>Batch norm: 1-D after a flat input, 2-D after an image-shaped one.</summary>
public sealed record BatchNormSpec(float Momentum = 0.1f, float Epsilon = 1e-5f) : LayerSpec;

/// <summary>A residual block (see <see cref="Layers.ResidualBlock"/>) with its activation.</summary>
public sealed record ResidualSpec(int Out, int Stride = 1, string Activation = "relu", float? Slope = null, float? Alpha = null) : LayerSpec;
