using ILGPU;

namespace Mnist.Gpu.Kernels;

/// <summary>Which optimizer rule an update launch applies.</summary>
internal enum UpdateRule { Sgd, Momentum, Nesterov, AdaGrad, RmsProp, Adam }

/// <summary>
/// One optimizer step's constants. <see cref="A"/>, <see cref="B"/>, <see cref="C"/>, <see cref="D"/>
/// are the rule's own (see <see cref="UpdateKernels.Step"/>); L1, L2 and Shrink the weight penalty's.
/// </summary>
internal readonly record struct UpdateArgs(UpdateRule Rule, float A, float B, float C, float D, float E, float L1, float L2,
    float Shrink, int HasBuffer);

/// <summary>
/// The optimizer updates, one thread per parameter, with the CPU rules' arithmetic
/// (Kernels/UpdateRules.cs) written out for one element.
/// </summary>
internal static class UpdateKernels
{
    public static void Step(Index1D i, UpdateArgs u, ArrayView<float> p, ArrayView<float> g, ArrayView<float> s0, ArrayView<float> s1)
    {
        float pv = p[i], gv = g[i];
        // g′ = g + L2·p + L1·sign(p); the parameter shrinks by the decoupled decay.
        if (u.L2 != 0) gv += u.L2 * pv;
        if (u.L1 != 0) gv += u.L1 * ((pv > 0f ? 1f : 0f) - (pv < 0f ? 1f : 0f));
        float kept = u.Shrink == 1 ? pv : pv * u.Shrink;
        switch (u.Rule)
        {
            case UpdateRule.Sgd: // A = lr
                p[i] = kept - u.A * gv;
                break;
            case UpdateRule.Momentum: // A = lr, B = μ
            {
                float v = u.B * s0[i] + gv;
                s0[i] = v;
                p[i] = kept - u.A * v;
                break;
            }
            case UpdateRule.Nesterov: // A = lr, B = μ
            {
                float v = u.B * s0[i] + gv;
                s0[i] = v;
                p[i] = kept - u.A * (gv + u.B * v);
                break;
            }
            case UpdateRule.AdaGrad: // A = lr, B = ε
            {
                float sum = s0[i] + gv * gv;
                s0[i] = sum;
                p[i] = kept - u.A * (gv / (MathF.Sqrt(sum) + u.B));
                break;
            }
            case UpdateRule.RmsProp: // A = lr, B = α, C = ε, D = μ, E = 1 − α
            {
                float square = u.B * s0[i] + u.E * (gv * gv);
                s0[i] = square;
                float step = gv / (MathF.Sqrt(square) + u.C);
                if (u.D > 0)
                {
                    step = u.D * (u.HasBuffer != 0 ? s1[i] : 0f) + step;
                    if (u.HasBuffer != 0) s1[i] = step;
                }
                p[i] = kept - u.A * step;
                break;
            }
            default: // Adam: A = β1, B = β2, C = ε, D = step size, E = √(bias correction 2)
            {
                float m = u.A * s0[i] + (1 - u.A) * gv;
                float v = u.B * s1[i] + (1 - u.B) * (gv * gv);
                s0[i] = m;
                s1[i] = v;
                p[i] = kept - u.D * (m / (MathF.Sqrt(v) / u.E + u.C));
                break;
            }
        }
    }
}
