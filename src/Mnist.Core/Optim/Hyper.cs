namespace Mnist.Core.Optim;

/// <summary>Range checks shared by the optimizers' constructors.</summary>
internal static class Hyper
{
    /// <summary>A decay coefficient: in [0, 1).</summary>
    public static float CheckUnit(float value, string name) =>
        float.IsFinite(value) && value >= 0 && value < 1 ? value
            : throw new ArgumentOutOfRangeException(name, value, "must be in [0, 1)");

    /// <summary>A denominator guard: finite and positive.</summary>
    public static float CheckEps(float value) =>
        float.IsFinite(value) && value > 0 ? value
            : throw new ArgumentOutOfRangeException("eps", value, "must be finite and positive");
}
