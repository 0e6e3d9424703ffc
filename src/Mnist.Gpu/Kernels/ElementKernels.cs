using ILGPU;
using ILGPU.Runtime;
using Mnist.Core;
using Mnist.Core.Backends;

namespace Mnist.Gpu.Kernels;

/// <summary>One thread per element: fills, copies, bias, the activations and dropout masks.</summary>
internal static class ElementKernels
{
    public static void Fill(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    public static void Copy(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = x[i];

    public static void Axpy(Index1D i, float a, ArrayView<float> x, ArrayView<float> y) => y[i] += a * x[i];

    public static void Multiply(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] * b[i];

    /// <summary>y[row, j] += bias[j] over a rows × columns matrix.</summary>
    public static void AddRowBias(Index1D i, int columns, ArrayView<float> y, ArrayView<float> bias) => y[i] += bias[i % columns];

    /// <summary>sums[j] = Σ over rows (in order) of matrix[row, j].</summary>
    public static void SumRows(Index1D j, int rows, int columns, ArrayView<float> matrix, ArrayView<float> sums)
    {
        float sum = 0f;
        for (int r = 0; r < rows; r++) sum += matrix[(long)r * columns + j];
        sums[j] = sum;
    }

    /// <summary>
    /// Element i of an inverted-dropout mask: <see cref="RandomStream.Unit"/>(i), the very code the
    /// CPU backend's masks come from (Philox), so the masks are the CPU's bit for bit.
    /// </summary>
    public static void DropoutMask(Index1D i, RandomStream random, float p, float keep, ArrayView<float> mask) =>
        mask[i] = random.Unit((ulong)i.X) >= p ? keep : 0f;

    /// <summary>y = f(x), as ActivationKernels.Apply.</summary>
    public static void Activate(Index1D i, ActivationFunction f, ArrayView<float> x, ArrayView<float> y)
    {
        float v = x[i], a = f.Parameter;
        y[i] = f.Op switch
        {
            ActivationOp.Relu => v > 0f ? v : 0f,
            ActivationOp.LeakyRelu => v > 0f ? v : a * v,
            ActivationOp.Elu => v > 0f ? v : a * (MathF.Exp(v) - 1f),
            ActivationOp.Swish => v * Logistic(v),
            ActivationOp.Sigmoid => Logistic(v),
            _ => MathF.Tanh(v),
        };
    }

    /// <summary>dx = dy·f′(x), as ActivationKernels.Derive.</summary>
    public static void Derive(Index1D i, ActivationFunction f, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx)
    {
        float v = x[i], d = dy[i], a = f.Parameter;
        switch (f.Op)
        {
            case ActivationOp.Relu:
                dx[i] = v > 0f ? d : 0f;
                break;
            case ActivationOp.LeakyRelu:
                dx[i] = v > 0f ? d : a * d;
                break;
            case ActivationOp.Elu:
                dx[i] = v > 0f ? d : d * (y[i] + a);
                break;
            case ActivationOp.Swish:
                float s = Logistic(v);
                dx[i] = d * s * (1f + v * (1f - s));
                break;
            case ActivationOp.Sigmoid:
                dx[i] = d * y[i] * (1f - y[i]);
                break;
            default:
                dx[i] = d * (1f - y[i] * y[i]);
                break;
        }
    }

    /// <summary>ActivationKernels.Logistic: e^x only for x ≤ 0.</summary>
    private static float Logistic(float x)
    {
        if (x >= 0f) return 1f / (1f + MathF.Exp(-x));
        float e = MathF.Exp(x);
        return e / (1f + e);
    }
}
