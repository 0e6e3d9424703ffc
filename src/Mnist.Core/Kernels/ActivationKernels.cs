using Mnist.Core.Backends;

namespace Mnist.Core.Kernels;

/// <summary>
/// The activations and their derivatives over spans (the CPU backend's). ReLU is vectorised
/// (<see cref="Elementwise"/>); the others are plain loops, whose MathF calls are what the
/// numbers depend on.
/// </summary>
public static class ActivationKernels
{
    /// <summary>y = f(x).</summary>
    public static void Apply(ActivationFunction f, ReadOnlySpan<float> x, Span<float> y)
    {
        y = y[..x.Length];
        float a = f.Parameter;
        switch (f.Op)
        {
            case ActivationOp.Relu:
                Elementwise.Relu(x, y);
                break;
            case ActivationOp.LeakyRelu:
                for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : a * x[i];
                break;
            case ActivationOp.Elu:
                for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : a * (MathF.Exp(x[i]) - 1f);
                break;
            case ActivationOp.Swish:
                for (int i = 0; i < x.Length; i++) y[i] = x[i] * Logistic(x[i]);
                break;
            case ActivationOp.Sigmoid:
                for (int i = 0; i < x.Length; i++) y[i] = Logistic(x[i]);
                break;
            case ActivationOp.Tanh:
                for (int i = 0; i < x.Length; i++) y[i] = MathF.Tanh(x[i]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation");
        }
    }

    /// <summary>dx = dy · f′(x), given x and the y that <see cref="Apply"/> produced.</summary>
    public static void Derive(ActivationFunction f, ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        dx = dx[..x.Length];
        float a = f.Parameter;
        switch (f.Op)
        {
            case ActivationOp.Relu:
                Elementwise.ReluBackward(x, dy, dx);
                break;
            case ActivationOp.LeakyRelu:
                for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : a * dy[i];
                break;
            case ActivationOp.Elu:
                // Its slope below zero is y + alpha.
                for (int i = 0; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : dy[i] * (y[i] + a);
                break;
            case ActivationOp.Swish:
                for (int i = 0; i < x.Length; i++)
                {
                    float s = Logistic(x[i]);
                    dx[i] = dy[i] * s * (1f + x[i] * (1f - s));
                }
                break;
            case ActivationOp.Sigmoid:
                for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * y[i] * (1f - y[i]);
                break;
            case ActivationOp.Tanh:
                for (int i = 0; i < x.Length; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(f), f.Op, "unknown activation");
        }
    }

    /// <summary>The logistic function without overflow: e^x is only taken for x ≤ 0.</summary>
    public static float Logistic(float x)
    {
        if (x >= 0f) return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }
}
