using Mnist.Core.Layers;
using Mnist.Core.Training;

namespace Mnist.Core.Models;

/// <summary>
/// Named architectures for 28×28 digits. A width multiplier scales every channel count and
/// hidden size (rounded, at least 1); the activation is used throughout. Each preset trains by
/// default with its recipe (<see cref="Recipes"/>).
/// </summary>
public static class Presets
{
    public static IReadOnlyList<string> Names { get; } = ["classic", "light", "resnet", "best"];

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
            "best" => Best(S(32), S(64), S(128), act),
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

    /// <summary>
    /// The network of the well-known Kaggle MNIST recipes (Deotte's "25 million images"): two
    /// blocks of conv 3×3, conv 3×3 and a strided 5×5 conv (28→26→24→12, 12→10→8→4), each conv
    /// followed by batch norm and the activation, dropout 0.4 after each block; then a hidden
    /// dense layer with batch norm and dropout. About 327,000 parameters.
    /// </summary>
    private static LayerSpec[] Best(int c1, int c2, int hidden, string act) =>
    [
        .. Block(c1, act),
        .. Block(c2, act),
        new FlattenSpec(),
        new DenseSpec(hidden),
        new BatchNormSpec(),
        new ActivationSpec(act),
        new DropoutSpec(0.4f),
        new DenseSpec(10),
    ];

    /// <summary>conv 3×3, conv 3×3 (no padding), conv 5×5 stride 2 (padding 2: halves the side), each with batch norm and the activation; dropout 0.4.</summary>
    private static LayerSpec[] Block(int channels, string act) =>
    [
        new Conv2DSpec(channels, Kernel: 3, Bias: false), new BatchNormSpec(), new ActivationSpec(act),
        new Conv2DSpec(channels, Kernel: 3, Bias: false), new BatchNormSpec(), new ActivationSpec(act),
        new Conv2DSpec(channels, Kernel: 5, Stride: 2, Pad: 2, Bias: false), new BatchNormSpec(), new ActivationSpec(act),
        new DropoutSpec(0.4f),
    ];
}
