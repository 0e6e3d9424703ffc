using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Mnist.Core.Layers;

namespace Mnist.Core.Models;

/// <summary>The registered layer kinds: adding a kind is one file under Layers/ and one line in <see cref="All"/>.</summary>
public static class LayerKinds
{
    /// <summary>Every kind, in the order the gradient-check suite lists them.</summary>
    public static IReadOnlyList<LayerKind> All { get; } =
    [
        new Conv2DKind(),
        new DenseKind(),
        new FlattenKind(),
        new MaxPoolKind(),
        new AvgPoolKind(),
        new GlobalMaxPoolKind(),
        new DropoutKind(),
        new BatchNormKind(),
        new ActivationKind(),
        new ResidualKind(),
    ];

    /// <summary>The "type" names a layer spec may have.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(k => k.Name)];

    private static readonly Dictionary<Type, LayerKind> BySpec = All.ToDictionary(k => k.SpecType);

    /// <summary>The kind of <paramref name="spec"/>.</summary>
    public static LayerKind Of(LayerSpec spec) =>
        BySpec.TryGetValue(spec.GetType(), out var kind) ? kind
            : throw new MnistException($"unsupported layer spec {spec.GetType().Name}; layer types: {string.Join(", ", Names)}");

    /// <summary>The kind that builds <paramref name="layer"/> (matched on its class or a base class), or null.</summary>
    public static LayerKind? Of(Layer layer)
    {
        for (var type = layer.GetType(); type is not null; type = type.BaseType)
            foreach (var kind in All)
                if (kind.LayerType == type) return kind;
        return null;
    }

    /// <summary>
    /// A JSON contract modifier that gives <see cref="LayerSpec"/> its "type" discriminator, one
    /// derived type per kind (what [JsonDerivedType] attributes would list, from the registry).
    /// </summary>
    internal static void DescribeSpecs(JsonTypeInfo info)
    {
        if (info.Type != typeof(LayerSpec)) return;
        var polymorphism = new JsonPolymorphismOptions
        {
            TypeDiscriminatorPropertyName = "type",
            UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
        };
        foreach (var kind in All) polymorphism.DerivedTypes.Add(new JsonDerivedType(kind.SpecType, kind.Name));
        info.PolymorphismOptions = polymorphism;
    }
}
