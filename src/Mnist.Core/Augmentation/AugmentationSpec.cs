using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Mnist.Core.Augmentation;

/// <summary>
/// How training images are distorted, as plain data (JSON via System.Text.Json, camelCase;
/// unknown fields are rejected). Each image of each batch gets its own random affine transform —
/// every parameter uniform in [−range, +range] — and, when <see cref="ElasticAlpha"/> is above
/// 0, an elastic distortion (Simard et al. 2003). A range of 0 turns that part off; all of them 0
/// (the default) turns augmentation off, and the images are then exactly the unaugmented ones.
/// </summary>
/// <param name="Rotation">Rotation in degrees, positive counter-clockwise on screen (at most 180).</param>
/// <param name="Scale">Relative zoom: the factor is uniform in [1 − Scale, 1 + Scale] (below 1).</param>
/// <param name="Shear">Horizontal shear in degrees, positive slanting like italics (below 90).</param>
/// <param name="Translate">Shift as a fraction of the width (horizontally) and height (vertically), at most 1.</param>
/// <param name="ElasticAlpha">Elastic displacement scale in pixels (Simard's α; 34 on MNIST). 0: no elastic distortion.</param>
/// <param name="ElasticSigma">Standard deviation in pixels of the Gaussian that smooths the random displacement field (Simard's σ; 4 on MNIST).</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AugmentationSpec(
    float Rotation = 0,
    float Scale = 0,
    float Shear = 0,
    float Translate = 0,
    float ElasticAlpha = 0,
    float ElasticSigma = AugmentationSpec.SimardSigma)
{
    /// <summary>Simard et al.'s elastic settings for MNIST.</summary>
    public const float SimardAlpha = 34, SimardSigma = 4;

    /// <summary>The widest smoothing allowed: its kernel spans 3σ each side (61 taps at 10).</summary>
    public const float MaxSigma = 10;

    /// <summary>No augmentation.</summary>
    public static AugmentationSpec None { get; } = new();

    /// <summary>
    /// The affine recipe of the well-known MNIST CNNs: ±10° rotation, ±10% zoom, ±10° shear, ±10%
    /// shift; no elastic distortion.
    /// </summary>
    public static AugmentationSpec Standard { get; } = new(Rotation: 10, Scale: 0.1f, Shear: 10, Translate: 0.1f);

    /// <summary>The standard affine recipe plus Simard's elastic distortion (α 34, σ 4).</summary>
    public static AugmentationSpec Elastic { get; } = Standard with { ElasticAlpha = SimardAlpha };

    /// <summary>The named specs: none, standard, elastic.</summary>
    public static IReadOnlyList<string> Names { get; } = ["none", "standard", "elastic"];

    /// <summary>A named spec (case-insensitive); <see cref="MnistException"/> for an unknown name.</summary>
    public static AugmentationSpec Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "none" => None,
        "standard" => Standard,
        "elastic" => Elastic,
        _ => throw new MnistException($"unknown augmentation '{name}'; valid names: {string.Join(", ", Names)}"),
    };

    /// <summary>A name (<see cref="Named"/>) or a JSON object (<see cref="FromJson"/>), validated.</summary>
    public static AugmentationSpec Parse(string nameOrJson) =>
        (nameOrJson.TrimStart().StartsWith('{') ? FromJson(nameOrJson) : Named(nameOrJson)).Validate();

    /// <summary>
    /// The same distortions written one way: <see cref="ElasticSigma"/> back to its default when
    /// there is no elastic part (it then changes nothing), so two specs that distort alike compare equal.
    /// </summary>
    public AugmentationSpec Canonical() => ElasticAlpha == 0 ? this with { ElasticSigma = SimardSigma } : this;

    /// <summary>True when every range is 0, so images pass through untouched.</summary>
    [JsonIgnore]
    public bool IsOff => Rotation == 0 && Scale == 0 && Shear == 0 && Translate == 0 && ElasticAlpha == 0;

    /// <summary>Throws <see cref="MnistException"/> naming the first setting out of range.</summary>
    public AugmentationSpec Validate()
    {
        Check("rotation", Rotation, Rotation <= 180, "at most 180 degrees");
        Check("scale", Scale, Scale < 1, "below 1 (the zoom factor must stay positive)");
        Check("shear", Shear, Shear < 90, "below 90 degrees");
        Check("translate", Translate, Translate <= 1, "at most 1 (a fraction of the image size)");
        Check("elasticAlpha", ElasticAlpha, true, "");
        Check("elasticSigma", ElasticSigma, ElasticSigma <= MaxSigma, $"at most {MaxSigma} pixels");
        if (ElasticAlpha > 0 && ElasticSigma == 0)
            throw new MnistException("augmentation: elasticSigma must be above 0 when elasticAlpha is");
        return this;

        static void Check(string setting, float value, bool inRange, string rule)
        {
            if (!float.IsFinite(value) || value < 0)
                throw new MnistException($"augmentation: {setting} must be a non-negative number, got {Text(value)}");
            if (!inRange) throw new MnistException($"augmentation: {setting} {Text(value)} must be {rule}");
        }
    }

    /// <summary>Compact form for logs, e.g. "rotation=10, scale=0.1" or "none".</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        void Add(string name, float value) { if (value != 0) parts.Add($"{name}={Text(value)}"); }
        Add("rotation", Rotation);
        Add("scale", Scale);
        Add("shear", Shear);
        Add("translate", Translate);
        Add("elasticAlpha", ElasticAlpha);
        if (ElasticAlpha != 0) Add("elasticSigma", ElasticSigma);
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    private static string Text(float value) => value.ToString(CultureInfo.InvariantCulture);

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static AugmentationSpec FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<AugmentationSpec>(json, Json) ?? throw new MnistException("empty augmentation spec");
        }
        catch (JsonException e)
        {
            throw new MnistException($"invalid augmentation spec: {e.Message}", e);
        }
    }
}
