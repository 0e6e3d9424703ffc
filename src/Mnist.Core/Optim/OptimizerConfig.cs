using System.Globalization;
using System.Text.Json.Serialization;

namespace Mnist.Core.Optim;

/// <summary>
/// Which optimizer to build and its settings, as plain data (JSON via System.Text.Json; unknown
/// JSON fields are rejected). A setting left null takes the optimizer's default (PyTorch's);
/// setting one the optimizer does not use is an error. <see cref="Resolve"/> fills the defaults.
/// <list type="bullet">
/// <item>sgd: —</item>
/// <item>momentum, nesterov: Momentum (0.9)</item>
/// <item>adagrad: Eps (1e-10)</item>
/// <item>rmsprop: Beta2 = PyTorch's alpha, the squared-gradient decay (0.99), Eps (1e-8), Momentum (0)</item>
/// <item>adam: Beta1 (0.9), Beta2 (0.999), Eps (1e-8)</item>
/// <item>adamw: as adam, WeightDecay 0.01</item>
/// </list>
/// Every optimizer takes L1, L2 (coupled, added to the gradient) and WeightDecay (decoupled,
/// default 0 except adamw); all three apply only to parameters with Decay = true.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record OptimizerConfig(
    string Name = "sgd",
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Momentum = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Beta1 = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Beta2 = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? Eps = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] float? WeightDecay = null,
    float L1 = 0,
    float L2 = 0)
{
    /// <summary>The names <see cref="Optimizers.Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"];

    /// <summary>
    /// The same config with the canonical name and every setting the optimizer uses filled in;
    /// throws <see cref="MnistException"/> for an unknown name, a setting the optimizer does not
    /// use, or a value out of range.
    /// </summary>
    public OptimizerConfig Resolve()
    {
        string name = ConfigName.Canonical(Name);
        var (momentum, beta1, beta2, eps, weightDecay) = name switch
        {
            "sgd" => (null, null, null, null, 0f),
            "momentum" or "nesterov" => (0.9f, null, null, null, 0f),
            "adagrad" => (null, null, null, 1e-10f, 0f),
            "rmsprop" => (0f, null, 0.99f, 1e-8f, 0f),
            "adam" => (null, 0.9f, 0.999f, 1e-8f, 0f),
            "adamw" => ((float?)null, (float?)0.9f, (float?)0.999f, (float?)1e-8f, 0.01f),
            _ => throw new MnistException(
                $"unknown optimizer '{Name}'; valid names: {string.Join(", ", Names)}"),
        };
        var resolved = new OptimizerConfig(name,
            Pick(Momentum, momentum, "momentum"), Pick(Beta1, beta1, "beta1"), Pick(Beta2, beta2, "beta2"),
            Pick(Eps, eps, "eps"), WeightDecay ?? weightDecay, L1, L2);
        resolved.CheckRanges();
        return resolved;

        float? Pick(float? given, float? fallback, string setting)
        {
            if (given is null) return fallback;
            if (fallback is null)
                throw new MnistException($"optimizer '{name}' has no {setting} setting (it uses: {Uses(name)})");
            return given;
        }
    }

    private void CheckRanges()
    {
        if (Momentum is float m && !(m >= 0 && m < 1)) Bad("momentum", m, "in [0, 1)");
        if (Name == "nesterov" && Momentum <= 0) Bad("momentum", Momentum!.Value, "above 0 for nesterov");
        if (Beta1 is float b1 && !(b1 >= 0 && b1 < 1)) Bad("beta1", b1, "in [0, 1)");
        if (Beta2 is float b2 && !(b2 >= 0 && b2 < 1)) Bad("beta2", b2, "in [0, 1)");
        if (Eps is float e && !(e > 0 && float.IsFinite(e))) Bad("eps", e, "positive and finite");
        if (WeightDecay is float wd && !(wd >= 0 && float.IsFinite(wd))) Bad("weightDecay", wd, "non-negative and finite");
        if (!(L1 >= 0 && float.IsFinite(L1))) Bad("l1", L1, "non-negative and finite");
        if (!(L2 >= 0 && float.IsFinite(L2))) Bad("l2", L2, "non-negative and finite");

        void Bad(string setting, float value, string rule) =>
            throw new MnistException($"optimizer '{Name}': {setting} {value.ToString(CultureInfo.InvariantCulture)} must be {rule}");
    }

    /// <summary>The regularisation part of the config (after <see cref="Resolve"/>).</summary>
    [JsonIgnore]
    public Regularization Regularization => new(L1, L2, WeightDecay ?? 0);

    /// <summary>Compact form for logs and test names: the name and the settings given, e.g. "adam(beta1=0.8, l2=0.01)".</summary>
    public override string ToString() => ConfigName.Describe(Name,
        ("momentum", Momentum), ("beta1", Beta1), ("beta2", Beta2), ("eps", Eps), ("weightDecay", WeightDecay),
        ("l1", L1 == 0 ? null : L1), ("l2", L2 == 0 ? null : L2));

    private static string Uses(string name) => name switch
    {
        "sgd" => "l1, l2, weightDecay",
        "momentum" or "nesterov" => "momentum, l1, l2, weightDecay",
        "adagrad" => "eps, l1, l2, weightDecay",
        "rmsprop" => "beta2 (alpha), eps, momentum, l1, l2, weightDecay",
        _ => "beta1, beta2, eps, l1, l2, weightDecay",
    };
}
