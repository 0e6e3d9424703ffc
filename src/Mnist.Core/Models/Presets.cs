using Mnist.Core.Layers;
using Mnist.Core.Training;

namespace Mnist.Core.Models;

/// <summary>
/// Named architectures for 28×28 digits. A width multiplier scales every channel count and
/// hidden size (rounded, at least 1); the activation is used throughout.
/// </summary>
public static class Presets
{
    public static IReadOnlyList<string> Names { get; } = ["classic", "light", "resnet"];

    public static ModelConfig Create(string name, double width = TrainingDefaults.Width, string activation = TrainingDefaults.Activation)
    {
        if (!(width > 0 && double.IsFinite(width))) throw new MnistException($"width multiplier must be a positive number (got {width})");
        string act = Activations.Canonical(activation);
        int S(int n) => Math.Max(1, (int)Math.Round(n * width, MidpointRounding.AwayFromZero));
        string key = (name ?? "").Trim().ToLowerInvariant();
        IReadOnlyList<LayerSpec> layers = key switch
        {
            "classic" => TwoConv(S(32), S(64), S(128), act),
            "light" => TwoConv(S(8), S(16), S(32), act),
            "resnet" => ResNet(S(16), S(32), S(64), act),
            _ => throw new MnistException($"unknown model preset '{name}'; valid presets: {string.Join(", ", Names)}"),
        };
        return new ModelConfig(ModelConfig.MnistInput, 10, layers, key);
    }

    /// <summary>conv-act-pool twice, then a hidden dense layer with dropout: the course network.</summary>
    private static LayerSpec[] TwoConv(int c1, int c2, int hidden, string act) =>
    [
        new Conv2DSpec(c1, Kernel: 3, Stride: 1, Pad: 1),
        new ActivationSpec(act),
        new MaxPoolSpec(2),
        new Conv2DSpec(c2, Kernel: 3, Stride: 1, Pad: 1),
        new ActivationSpec(act),
        new MaxPoolSpec(2),
        new FlattenSpec(),
        new DenseSpec(hidden),
        new ActivationSpec(act),
        new DropoutSpec(0.25f),
        new DenseSpec(10),
    ];

    /// <summary>A stem convolution, three residual blocks (28→14→7), global average pooling.</summary>
    private static LayerSpec[] ResNet(int c1, int c2, int c3, string act) =>
    [
        new Conv2DSpec(c1, Kernel: 3, Stride: 1, Pad: 1, Bias: false),
        new BatchNormSpec(),
        new ActivationSpec(act),
        new ResidualSpec(c1, Stride: 1, Activation: act),
        new ResidualSpec(c2, Stride: 2, Activation: act),
        new ResidualSpec(c3, Stride: 2, Activation: act),
        new AvgPoolSpec(7),
        new FlattenSpec(),
        new DenseSpec(10),
    ];
}
