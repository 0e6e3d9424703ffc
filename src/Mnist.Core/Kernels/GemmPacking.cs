using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layout the micro-kernels stream through:
/// A as MR-row panels (for each k, MR consecutive rows), B as NR-column panels (for each k, NR
/// consecutive columns), zero-padded at the edges so every tile is computed the same way.
/// </summary>
internal static unsafe class GemmPacking
{
    public const int MR = GemmMicroKernels.MR;

    /// <summary>Packs rows [i0, i0+rows) × k [k0, k0+kc) of op(A) into ceil(rows/MR) panels of kc·MR floats.</summary>
    public static void PackA(in GemmProblem p, int i0, int rows, int k0, int kc, float* dst)
    {
        var a = p.A;
        float* src = a.Ptr + (a.Trans ? (long)k0 * a.Ld + i0 : (long)i0 * a.Ld + k0);
        for (int r0 = 0; r0 < rows; r0 += MR)
        {
            float* panel = dst + (long)(r0 / MR) * kc * MR;
            int h = Math.Min(MR, rows - r0);
            if (a.Trans) CopyRows(src + r0, a.Ld, kc, h, MR, panel);
            else GatherRows(src + (long)r0 * a.Ld, a.Ld, kc, h, MR, panel);
        }
    }

    /// <summary>Packs k [k0, k0+kc) × columns [j0, j0+cols) of op(B) into ceil(cols/nr) panels of kc·nr floats.</summary>
    public static void PackB(in GemmProblem p, int k0, int kc, int j0, int cols, int nr, float* dst)
    {
        var b = p.B;
        float* src = b.Ptr + (b.Trans ? (long)j0 * b.Ld + k0 : (long)k0 * b.Ld + j0);
        for (int c0 = 0; c0 < cols; c0 += nr)
        {
            float* panel = dst + (long)(c0 / nr) * kc * nr;
            int w = Math.Min(nr, cols - c0);
            if (b.Trans) GatherRows(src + (long)c0 * b.Ld, b.Ld, kc, w, nr, panel);
            else CopyRows(src + c0, b.Ld, kc, w, nr, panel);
        }
    }

    /// <summary>dst[k·width + r] = src[k·ld + r] for r &lt; count, zero for count ≤ r &lt; width.</summary>
    private static void CopyRows(float* src, int ld, int len, int count, int width, float* dst)
    {
        if (Avx.IsSupported && width % 8 == 0)
        {
            for (int k = 0; k < len; k++, src += ld, dst += width)
                for (int j = 0; j < width; j += 8)
                {
                    int valid = Math.Clamp(count - j, 0, 8);
                    // Masked-off lanes load as zero, which is the padding the panel needs.
                    var v = valid == 8 ? Avx.LoadVector256(src + j)
                        : valid > 0 ? Avx.MaskLoad(src + j, FirstLanes(valid)) : Vector256<float>.Zero;
                    Avx.Store(dst + j, v);
                }
            return;
        }
        for (int k = 0; k < len; k++, src += ld, dst += width)
        {
            int r = 0;
            for (; r < count; r++) dst[r] = src[r];
            for (; r < width; r++) dst[r] = 0f;
        }
    }

    /// <summary>
    /// dst[k·width + r] = src[r·ld + k] for r &lt; count, zero for count ≤ r &lt; width (a transpose),
    /// in 8×8 blocks (6×8 for the 6-wide A panels); blocks cut by count or by the end of k are loaded
    /// masked and stored only as far as they go.
    /// </summary>
    internal static void GatherRows(float* src, int ld, int len, int count, int width, float* dst)
    {
        if (Avx.IsSupported && (width % 8 == 0 || width == 6))
        {
            int group = width == 6 ? 6 : 8;
            for (int k = 0; k < len; k += 8)
            {
                int kCount = Math.Min(8, len - k);
                for (int r = 0; r < width; r += group)
                {
                    int rows = Math.Clamp(count - r, 0, group);
                    float* from = src + (long)r * ld + k, to = dst + k * width + r;
                    if (rows == group && kCount == 8)
                    {
                        if (group == 6) Transpose6x8Store(from, ld, to);
                        else Transpose8Store(from, ld, to, width);
                    }
                    else TransposePartial(from, ld, rows, group, kCount, to, width);
                }
            }
            return;
        }
        for (int k = 0; k < len; k++)
        {
            float* d = dst + k * width;
            int r = 0;
            for (; r < count; r++) d[r] = src[(long)r * ld + k];
            for (; r < width; r++) d[r] = 0f;
        }
    }

    private static Vector256<float> FirstLanes(int n) => Vector256.LessThan(Lanes, Vector256.Create(n)).AsSingle();

    /// <summary>Reads an 8×8 block (8 rows of src, 8 k each) and writes it transposed: row k of the result at dst + k·dstStride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8Store(float* src, int ld, float* dst, int dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2L * ld);
        var r3 = Avx.LoadVector256(src + 3L * ld);
        var r4 = Avx.LoadVector256(src + 4L * ld);
        var r5 = Avx.LoadVector256(src + 5L * ld);
        var r6 = Avx.LoadVector256(src + 6L * ld);
        var r7 = Avx.LoadVector256(src + 7L * ld);
        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        Avx.Store(dst, r0);
        Avx.Store(dst + dstStride, r1);
        Avx.Store(dst + 2 * dstStride, r2);
        Avx.Store(dst + 3 * dstStride, r3);
        Avx.Store(dst + 4 * dstStride, r4);
        Avx.Store(dst + 5 * dstStride, r5);
        Avx.Store(dst + 6 * dstStride, r6);
        Avx.Store(dst + 7 * dstStride, r7);
    }

    private static readonly Vector256<int> FirstSix = Vector256.Create(-1, -1, -1, -1, -1, -1, 0, 0);
    private static readonly Vector256<int> Lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>
    /// 6 rows × 8 k into 8 groups of 6: each 8-wide store spills two lanes into the next group,
    /// which the next store overwrites; the last store is masked so nothing past the block changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose6x8Store(float* src, int ld, float* dst)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2L * ld);
        var r3 = Avx.LoadVector256(src + 3L * ld);
        var r4 = Avx.LoadVector256(src + 4L * ld);
        var r5 = Avx.LoadVector256(src + 5L * ld);
        var r6 = Vector256<float>.Zero;
        var r7 = Vector256<float>.Zero;
        Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        Avx.Store(dst, r0);
        Avx.Store(dst + 6, r1);
        Avx.Store(dst + 12, r2);
        Avx.Store(dst + 18, r3);
        Avx.Store(dst + 24, r4);
        Avx.Store(dst + 30, r5);
        Avx.Store(dst + 36, r6);
        Avx.MaskStore(dst + 42, FirstSix.AsSingle(), r7);
    }

    /// <summary>
    /// The general block: <paramref name="rows"/> (0 to <paramref name="group"/>) source rows of kCount
    /// (1 to 8) elements, missing rows read as zero; kCount output groups of <paramref name="group"/>
    /// floats at dst + k·dstStride. Six-wide groups are packed back to back: each 8-wide store spills
    /// two lanes that the next store overwrites, and the last is masked.
    /// </summary>
    private static void TransposePartial(float* src, int ld, int rows, int group, int kCount, float* dst, int dstStride)
    {
        var mask = FirstLanes(kCount);
        Span<Vector256<float>> v = [default, default, default, default, default, default, default, default];
        for (int i = 0; i < rows; i++) v[i] = Avx.MaskLoad(src + i * (long)ld, mask);
        Transpose8x8(ref v[0], ref v[1], ref v[2], ref v[3], ref v[4], ref v[5], ref v[6], ref v[7]);
        for (int k = 0; k < kCount; k++)
        {
            float* d = dst + k * dstStride;
            if (group == 8 || k < kCount - 1) Avx.Store(d, v[k]);
            else Avx.MaskStore(d, FirstSix.AsSingle(), v[k]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2,
        ref Vector256<float> r3, ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6,
        ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20);
        r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20);
        r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31);
        r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31);
        r7 = Avx.Permute2x128(u3, u7, 0x31);
    }
}
