using Mnist.Core.Backends;

namespace Mnist.Core.Kernels;

/// <summary>
/// The activations one element at a time: the formulas <see cref="ActivationKernels"/> vectorises
/// (its scalar tail calls these) and the plain loops its vector lanes are tested against bit for bit.
/// </summary>
public static class ActivationReference
{
    public static float LeakyRelu(float x, float a) => x > 0f ? x : a * x;
    public static float LeakyReluSlope(float x, float dy, float a) => x > 0f ? dy : a * dy;
    public static float Elu(float x, float a) => x > 0f ? x : a * (VectorMath.Exp(x) - 1f);
    public static float EluSlope(float x, float y, float dy, float a) => x > 0f ? dy : dy * (y + a);
    public static float Swish(float x) => x * VectorMath.Logistic(x);

    public static float SwishSlope(float x, float dy)
    {
        float s = VectorMath.Logistic(x);
        return dy * s * (1f + x * (1f - s));
    }

    public static float SigmoidSlope(float y, float dy) => dy * y * (1f - y);
    public static float TanhSlope(float y, float dy) => dy * (1f - y * y);

    /// <summary>y = f(x), element by element.</summary>
    public static void Apply(ActivationFunction f, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
            y[i] = f.Op switch
            {
                ActivationOp.Relu => x[i] > 0f ? x[i] : 0f,
                ActivationOp.LeakyRelu => LeakyRelu(x[i], f.Parameter),
                ActivationOp.Elu => Elu(x[i], f.Parameter),
                ActivationOp.Swish => Swish(x[i]),
                ActivationOp.Sigmoid => VectorMath.Logistic(x[i]),
                ActivationOp.Tanh => VectorMath.Tanh(x[i]),
                _ => throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation"),
            };
    }

    /// <summary>dx = dy·f′(x), element by element.</summary>
    public static void Derive(ActivationFunction f, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < x.Length; i++)
            dx[i] = f.Op switch
            {
                ActivationOp.Relu => x[i] > 0f ? dy[i] : 0f,
                ActivationOp.LeakyRelu => LeakyReluSlope(x[i], dy[i], f.Parameter),
                ActivationOp.Elu => EluSlope(x[i], y[i], dy[i], f.Parameter),
                ActivationOp.Swish => SwishSlope(x[i], dy[i]),
                ActivationOp.Sigmoid => SigmoidSlope(y[i], dy[i]),
                ActivationOp.Tanh => TanhSlope(y[i], dy[i]),
                _ => throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation"),
            };
    }
}
