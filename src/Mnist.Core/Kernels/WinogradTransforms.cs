namespace Mnist.Core.Kernels;

/// <summary>
/// The four small transforms of Winograd's F(2×2, 3×3) (Lavin and Gray 2016), one 4×4 tile each.
/// A 2×2 output tile of a 3×3 convolution is Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the 4×4 input tile d
/// that covers it, with
/// <code>
///   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
/// </code>
/// Every coefficient is 0, ±1 or ±½, so each transform only adds, subtracts and halves (exact in
/// binary), and its rounding error is a few ulps of the tile's largest value.
/// The backward passes are the transposes of the same maps: dU = (A dY Aᵀ) ⊙ V summed over tiles,
/// then dg = Gᵀ dU G. Tiles are 16 floats in row-major order (index 4·row + column).
/// </summary>
internal static unsafe class WinogradTransforms
{
    /// <summary>U = G g Gᵀ: a 3×3 kernel (9 floats at g, row stride 3) to 16 floats at u, stride between them <paramref name="stride"/>.</summary>
    public static void Kernel(float* g, float* u, long stride)
    {
        float* h = stackalloc float[12]; // G g: 4 rows of 3
        for (int j = 0; j < 3; j++)
        {
            float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
            h[j] = g0;
            h[3 + j] = 0.5f * (g0 + g1 + g2);
            h[6 + j] = 0.5f * (g0 - g1 + g2);
            h[9 + j] = g2;
        }
        for (int i = 0; i < 4; i++)
        {
            float h0 = h[3 * i], h1 = h[3 * i + 1], h2 = h[3 * i + 2];
            u[(4 * i) * stride] = h0;
            u[(4 * i + 1) * stride] = 0.5f * (h0 + h1 + h2);
            u[(4 * i + 2) * stride] = 0.5f * (h0 - h1 + h2);
            u[(4 * i + 3) * stride] = h2;
        }
    }

    /// <summary>dg = Gᵀ dU G: 16 floats at du (stride apart) to a 3×3 kernel gradient at dg.</summary>
    public static void KernelGradient(float* du, long stride, float* dg)
    {
        float* q = stackalloc float[12]; // Gᵀ dU: 3 rows of 4
        for (int j = 0; j < 4; j++)
        {
            float u0 = du[j * stride], u1 = du[(4 + j) * stride], u2 = du[(8 + j) * stride], u3 = du[(12 + j) * stride];
            q[j] = u0 + 0.5f * (u1 + u2);
            q[4 + j] = 0.5f * (u1 - u2);
            q[8 + j] = 0.5f * (u1 + u2) + u3;
        }
        for (int i = 0; i < 3; i++)
        {
            float q0 = q[4 * i], q1 = q[4 * i + 1], q2 = q[4 * i + 2], q3 = q[4 * i + 3];
            dg[3 * i] = q0 + 0.5f * (q1 + q2);
            dg[3 * i + 1] = 0.5f * (q1 - q2);
            dg[3 * i + 2] = 0.5f * (q1 + q2) + q3;
        }
    }

    /// <summary>V = Bᵀ d B for the 4×4 tile d (16 floats) to 16 floats at v, stride apart.</summary>
    public static void Input(float* d, float* v, long stride)
    {
        // Bᵀ d, row by row: t0 = d0 − d2, t1 = d1 + d2, t2 = d2 − d1, t3 = d1 − d3.
        Vector4Rows(d, out var r0, out var r1, out var r2, out var r3);
        var t0 = r0 - r2; var t1 = r1 + r2; var t2 = r2 - r1; var t3 = r1 - r3;
        InputColumns(t0, v, stride);
        InputColumns(t1, v + 4 * stride, stride);
        InputColumns(t2, v + 8 * stride, stride);
        InputColumns(t3, v + 12 * stride, stride);
    }

    /// <summary>Y = Aᵀ m A: 16 floats at m (stride apart) to the 2×2 output y0 y1 / y2 y3, plus bias.</summary>
    public static void Output(float* m, long stride, float bias, out float y0, out float y1, out float y2, out float y3)
    {
        // Aᵀ m: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (rows), then the same over columns.
        float s00 = m[0] + m[4 * stride] + m[8 * stride], s10 = m[4 * stride] - m[8 * stride] - m[12 * stride];
        float s01 = m[stride] + m[5 * stride] + m[9 * stride], s11 = m[5 * stride] - m[9 * stride] - m[13 * stride];
        float s02 = m[2 * stride] + m[6 * stride] + m[10 * stride], s12 = m[6 * stride] - m[10 * stride] - m[14 * stride];
        float s03 = m[3 * stride] + m[7 * stride] + m[11 * stride], s13 = m[7 * stride] - m[11 * stride] - m[15 * stride];
        y0 = s00 + s01 + s02 + bias;
        y1 = s01 - s02 - s03 + bias;
        y2 = s10 + s11 + s12 + bias;
        y3 = s11 - s12 - s13 + bias;
    }

    /// <summary>Z = A dY Aᵀ: the 2×2 output gradient e0 e1 / e2 e3 to 16 floats at z, stride apart.</summary>
    public static void OutputGradient(float e0, float e1, float e2, float e3, float* z, long stride)
    {
        // A dY: rows r0 = e_top, r1 = top + bottom, r2 = top − bottom, r3 = −bottom; then the same over columns.
        Row(e0, e1, z, stride);
        Row(e0 + e2, e1 + e3, z + 4 * stride, stride);
        Row(e0 - e2, e1 - e3, z + 8 * stride, stride);
        Row(-e2, -e3, z + 12 * stride, stride);

        static void Row(float a, float b, float* z, long stride)
        {
            z[0] = a;
            z[stride] = a + b;
            z[2 * stride] = a - b;
            z[3 * stride] = -b;
        }
    }

    private static void Vector4Rows(float* d, out System.Numerics.Vector4 r0, out System.Numerics.Vector4 r1,
        out System.Numerics.Vector4 r2, out System.Numerics.Vector4 r3)
    {
        r0 = *(System.Numerics.Vector4*)d;
        r1 = *(System.Numerics.Vector4*)(d + 4);
        r2 = *(System.Numerics.Vector4*)(d + 8);
        r3 = *(System.Numerics.Vector4*)(d + 12);
    }

    /// <summary>One row t of Bᵀ d times B: t0 − t2, t1 + t2, t2 − t1, t1 − t3.</summary>
    private static void InputColumns(System.Numerics.Vector4 t, float* v, long stride)
    {
        v[0] = t.X - t.Z;
        v[stride] = t.Y + t.Z;
        v[2 * stride] = t.Z - t.Y;
        v[3 * stride] = t.Y - t.W;
    }
}
