using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>Which register tile the GEMM runs; the fastest the machine supports unless a test forces one.</summary>
internal enum GemmPath { Auto, Avx512, Avx2, Portable }

/// <summary>
/// The MR×NR register tiles at the heart of the GEMM: C[0..MR, 0..NR] (+)= Σ_k a[k, :] ⊗ b[k, :] over
/// packed panels. Each C element is one chain of multiply-adds in k order, whatever tile or thread
/// computes it, which is what makes the threaded GEMM bit-identical to the serial one.
/// </summary>
internal static unsafe class GemmMicroKernels
{
    /// <summary>Rows of every tile; columns are <see cref="NR"/> (AVX2, portable) or <see cref="WideNR"/> (AVX-512).</summary>
    public const int MR = 6, NR = 16, WideNR = 32;

    /// <summary>AVX-512: 6×32 with 12 zmm accumulators: for each k, two B loads and one broadcast per row.</summary>
    public static void Avx512(int kc, float* a, float* b, float* c, nint ldc, bool accumulate) =>
        Avx512Wide(kc, a, b, c, ldc, accumulate, MR, Vector512<float>.AllBitsSet);

    /// <summary>AVX2+FMA: 6×16 with 12 ymm accumulators, the same loop as <see cref="Avx512"/> at half the width.</summary>
    public static void Avx2(int kc, float* a, float* b, float* c, nint ldc, bool accumulate) =>
        Avx2Wide(kc, a, b, c, ldc, accumulate, MR, Vector256<float>.AllBitsSet);

    /// <summary>
    /// A partial AVX-512 tile: the first h rows and w columns of C, read and written through lane masks
    /// (rows past h are computed from the zero padding of the A panel and dropped). Up to 16 columns
    /// need one zmm per row, half the work of a full tile. Every element is the same multiply-add
    /// chain as in <see cref="Avx512"/>, so an edge tile gives the bits a full tile would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Edge(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, int w)
    {
        if (w <= 16) Avx512Narrow(kc, a, b, c, ldc, accumulate, h, Mask512(w));
        else Avx512Wide(kc, a, b, c, ldc, accumulate, h, Mask512(w - 16));
    }

    /// <summary>Rows of up to 16 columns (mask m), one zmm accumulator each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512Narrow(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, Vector512<float> m)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z;
        if (accumulate)
        {
            c0 = Avx512F.MaskLoad(c, m, z);
            if (h > 1) c1 = Avx512F.MaskLoad(c + ldc, m, z);
            if (h > 2) c2 = Avx512F.MaskLoad(c + 2 * ldc, m, z);
            if (h > 3) c3 = Avx512F.MaskLoad(c + 3 * ldc, m, z);
            if (h > 4) c4 = Avx512F.MaskLoad(c + 4 * ldc, m, z);
            if (h > 5) c5 = Avx512F.MaskLoad(c + 5 * ldc, m, z);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadVector512(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            a += MR;
            b += WideNR;
        }
        Avx512F.MaskStore(c, m, c0);
        if (h > 1) Avx512F.MaskStore(c + ldc, m, c1);
        if (h > 2) Avx512F.MaskStore(c + 2 * ldc, m, c2);
        if (h > 3) Avx512F.MaskStore(c + 3 * ldc, m, c3);
        if (h > 4) Avx512F.MaskStore(c + 4 * ldc, m, c4);
        if (h > 5) Avx512F.MaskStore(c + 5 * ldc, m, c5);
    }

    /// <summary>h rows of 17–32 columns: a full zmm and a masked one (m) each; the full tile is h = 6 with m all set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512Wide(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, Vector512<float> m)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        if (accumulate)
        {
            c00 = Avx512F.LoadVector512(c); c01 = Avx512F.MaskLoad(c + 16, m, z);
            if (h > 1) { c10 = Avx512F.LoadVector512(c + ldc); c11 = Avx512F.MaskLoad(c + ldc + 16, m, z); }
            if (h > 2) { c20 = Avx512F.LoadVector512(c + 2 * ldc); c21 = Avx512F.MaskLoad(c + 2 * ldc + 16, m, z); }
            if (h > 3) { c30 = Avx512F.LoadVector512(c + 3 * ldc); c31 = Avx512F.MaskLoad(c + 3 * ldc + 16, m, z); }
            if (h > 4) { c40 = Avx512F.LoadVector512(c + 4 * ldc); c41 = Avx512F.MaskLoad(c + 4 * ldc + 16, m, z); }
            if (h > 5) { c50 = Avx512F.LoadVector512(c + 5 * ldc); c51 = Avx512F.MaskLoad(c + 5 * ldc + 16, m, z); }
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx512F.LoadVector512(b);
            var b1 = Avx512F.LoadVector512(b + 16);
            var av = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            a += MR;
            b += WideNR;
        }
        Avx512F.Store(c, c00); Avx512F.MaskStore(c + 16, m, c01);
        if (h > 1) { Avx512F.Store(c + ldc, c10); Avx512F.MaskStore(c + ldc + 16, m, c11); }
        if (h > 2) { Avx512F.Store(c + 2 * ldc, c20); Avx512F.MaskStore(c + 2 * ldc + 16, m, c21); }
        if (h > 3) { Avx512F.Store(c + 3 * ldc, c30); Avx512F.MaskStore(c + 3 * ldc + 16, m, c31); }
        if (h > 4) { Avx512F.Store(c + 4 * ldc, c40); Avx512F.MaskStore(c + 4 * ldc + 16, m, c41); }
        if (h > 5) { Avx512F.Store(c + 5 * ldc, c50); Avx512F.MaskStore(c + 5 * ldc + 16, m, c51); }
    }

    /// <summary>
    /// The AVX2 partial tile, as <see cref="Avx512Edge"/>: up to 8 columns take one ymm per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Edge(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, int w)
    {
        if (w <= 8) Avx2Narrow(kc, a, b, c, ldc, accumulate, h, Mask256(w));
        else Avx2Wide(kc, a, b, c, ldc, accumulate, h, Mask256(w - 8));
    }

    /// <summary>Rows of up to 8 columns (mask m), one ymm accumulator each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx2Narrow(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, Vector256<float> m)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z;
        if (accumulate)
        {
            c0 = Avx.MaskLoad(c, m);
            if (h > 1) c1 = Avx.MaskLoad(c + ldc, m);
            if (h > 2) c2 = Avx.MaskLoad(c + 2 * ldc, m);
            if (h > 3) c3 = Avx.MaskLoad(c + 3 * ldc, m);
            if (h > 4) c4 = Avx.MaskLoad(c + 4 * ldc, m);
            if (h > 5) c5 = Avx.MaskLoad(c + 5 * ldc, m);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(b);
            c0 = Fma.MultiplyAdd(Vector256.Create(a[0]), b0, c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(a[1]), b0, c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(a[2]), b0, c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(a[3]), b0, c3);
            c4 = Fma.MultiplyAdd(Vector256.Create(a[4]), b0, c4);
            c5 = Fma.MultiplyAdd(Vector256.Create(a[5]), b0, c5);
            a += MR;
            b += NR;
        }
        Avx.MaskStore(c, m, c0);
        if (h > 1) Avx.MaskStore(c + ldc, m, c1);
        if (h > 2) Avx.MaskStore(c + 2 * ldc, m, c2);
        if (h > 3) Avx.MaskStore(c + 3 * ldc, m, c3);
        if (h > 4) Avx.MaskStore(c + 4 * ldc, m, c4);
        if (h > 5) Avx.MaskStore(c + 5 * ldc, m, c5);
    }

    /// <summary>h rows of 9–16 columns: a full ymm and a masked one (m) each; the full tile is h = 6 with m all set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx2Wide(int kc, float* a, float* b, float* c, nint ldc, bool accumulate, int h, Vector256<float> m)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        if (accumulate)
        {
            c00 = Avx.LoadVector256(c); c01 = Avx.MaskLoad(c + 8, m);
            if (h > 1) { c10 = Avx.LoadVector256(c + ldc); c11 = Avx.MaskLoad(c + ldc + 8, m); }
            if (h > 2) { c20 = Avx.LoadVector256(c + 2 * ldc); c21 = Avx.MaskLoad(c + 2 * ldc + 8, m); }
            if (h > 3) { c30 = Avx.LoadVector256(c + 3 * ldc); c31 = Avx.MaskLoad(c + 3 * ldc + 8, m); }
            if (h > 4) { c40 = Avx.LoadVector256(c + 4 * ldc); c41 = Avx.MaskLoad(c + 4 * ldc + 8, m); }
            if (h > 5) { c50 = Avx.LoadVector256(c + 5 * ldc); c51 = Avx.MaskLoad(c + 5 * ldc + 8, m); }
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += MR;
            b += NR;
        }
        Avx.Store(c, c00); Avx.MaskStore(c + 8, m, c01);
        if (h > 1) { Avx.Store(c + ldc, c10); Avx.MaskStore(c + ldc + 8, m, c11); }
        if (h > 2) { Avx.Store(c + 2 * ldc, c20); Avx.MaskStore(c + 2 * ldc + 8, m, c21); }
        if (h > 3) { Avx.Store(c + 3 * ldc, c30); Avx.MaskStore(c + 3 * ldc + 8, m, c31); }
        if (h > 4) { Avx.Store(c + 4 * ldc, c40); Avx.MaskStore(c + 4 * ldc + 8, m, c41); }
        if (h > 5) { Avx.Store(c + 5 * ldc, c50); Avx.MaskStore(c + 5 * ldc + 8, m, c51); }
    }

    private static readonly Vector512<int> LaneIndex512 = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    private static readonly Vector256<int> LaneIndex256 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>All bits set in the first n lanes (the mask form the masked loads and stores take).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Mask512(int n) => Vector512.LessThan(LaneIndex512, Vector512.Create(n)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Mask256(int n) => Vector256.LessThan(LaneIndex256, Vector256.Create(n)).AsSingle();

    /// <summary>Portable tile with <see cref="Vector{T}"/> (multiply then add), for machines without AVX2/FMA.</summary>
    public static void Portable(int kc, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        float* tile = stackalloc float[MR * NR];
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) tile[r * NR + j] = accumulate ? c[r * ldc + j] : 0f;
        int width = Vector<float>.Count;
        if (NR % width == 0)
        {
            for (int p = 0; p < kc; p++, a += MR, b += NR)
                for (int r = 0; r < MR; r++)
                {
                    var av = new Vector<float>(a[r]);
                    for (int j = 0; j < NR; j += width)
                    {
                        var bv = Unsafe.ReadUnaligned<Vector<float>>(b + j);
                        var cv = Unsafe.ReadUnaligned<Vector<float>>(tile + r * NR + j);
                        Unsafe.WriteUnaligned(tile + r * NR + j, cv + av * bv);
                    }
                }
        }
        else
        {
            for (int p = 0; p < kc; p++, a += MR, b += NR)
                for (int r = 0; r < MR; r++)
                    for (int j = 0; j < NR; j++) tile[r * NR + j] += a[r] * b[j];
        }
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < NR; j++) c[r * ldc + j] = tile[r * NR + j];
    }
}
