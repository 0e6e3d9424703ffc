using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// <see cref="BatchNormKernels"/>' float64 sums for several channels side by side, so their
/// additions overlap instead of each waiting on the last. Every channel keeps
/// <see cref="BatchNormKernels"/>' single-channel order: two 4-lane accumulators (lanes 0–3 and
/// 4–7 of each 8-float block), a scalar tail, then Σ(s0 + s1) + tail. With AVX-512 the two
/// accumulators are the halves of one 8-lane register (one conversion and one addition a block,
/// the same lanes in the same order), so the bits do not depend on the instruction set.
/// </summary>
internal static unsafe class BatchNormSums
{
    /// <summary>The AVX-512 loops hold the layout of 8-float <see cref="Vector{T}"/> blocks.</summary>
    private static bool Wide => Avx512F.IsSupported && Vector<float>.Count == 8;

    /// <summary>Channels c … c+3: Σx (centre = null) or Σ(x − centre[k])² of each, into sums[0..3].</summary>
    public static void Four(float* x, int batch, int channels, int plane, int c, double* centre, double* sums)
    {
        if (Wide) FourWide(x, batch, channels, plane, c, centre, sums);
        else FourPortable(x, batch, channels, plane, c, centre, sums);
    }

    /// <summary>Channels c and c+1: (Σdy, Σdy·xhat) of each, into sums[0..3].</summary>
    public static void GradientPair(float* dy, float* xhat, int batch, int channels, int plane, int c, double* sums)
    {
        if (Wide) GradientPairWide(dy, xhat, batch, channels, plane, c, sums);
        else GradientPairPortable(dy, xhat, batch, channels, plane, c, sums);
    }

    private static void FourWide(float* x, int batch, int channels, int plane, int c, double* centre, double* sums)
    {
        bool squares = centre != null;
        Vector512<double> ma = squares ? Vector512.Create(centre[0]) : default, mb = squares ? Vector512.Create(centre[1]) : default,
            mc = squares ? Vector512.Create(centre[2]) : default, md = squares ? Vector512.Create(centre[3]) : default;
        Vector512<double> a = default, b = default, cc = default, d = default;
        double* tails = stackalloc double[4] { 0, 0, 0, 0 };
        for (int n = 0; n < batch; n++)
        {
            float* pa = x + (long)(n * channels + c) * plane, pb = pa + plane, pc = pb + plane, pd = pc + plane;
            int i = 0;
            if (squares)
            {
                for (; i <= plane - 8; i += 8)
                {
                    var va = Widen(pa + i) - ma;
                    var vb = Widen(pb + i) - mb;
                    var vc = Widen(pc + i) - mc;
                    var vd = Widen(pd + i) - md;
                    a += va * va;
                    b += vb * vb;
                    cc += vc * vc;
                    d += vd * vd;
                }
                Tails(pa, pb, pc, pd, i, plane, centre, tails);
                continue;
            }
            for (; i <= plane - 8; i += 8)
            {
                a += Widen(pa + i);
                b += Widen(pb + i);
                cc += Widen(pc + i);
                d += Widen(pd + i);
            }
            Tails(pa, pb, pc, pd, i, plane, centre, tails);
        }
        sums[0] = Total(a) + tails[0];
        sums[1] = Total(b) + tails[1];
        sums[2] = Total(cc) + tails[2];
        sums[3] = Total(d) + tails[3];
    }

    private static void GradientPairWide(float* dy, float* xhat, int batch, int channels, int plane, int c, double* sums)
    {
        Vector512<double> a = default, p = default, b = default, q = default;
        double ta = 0, tp = 0, tb = 0, tq = 0;
        for (int n = 0; n < batch; n++)
        {
            long start = (long)(n * channels + c) * plane;
            float* da = dy + start, ha = xhat + start, db = da + plane, hb = ha + plane;
            int i = 0;
            for (; i <= plane - 8; i += 8)
            {
                Vector256<float> ga = Avx.LoadVector256(da + i), gb = Avx.LoadVector256(db + i);
                a += Avx512F.ConvertToVector512Double(ga);
                p += Avx512F.ConvertToVector512Double(ga * Avx.LoadVector256(ha + i));
                b += Avx512F.ConvertToVector512Double(gb);
                q += Avx512F.ConvertToVector512Double(gb * Avx.LoadVector256(hb + i));
            }
            for (; i < plane; i++)
            {
                ta += da[i];
                tp += da[i] * ha[i];
                tb += db[i];
                tq += db[i] * hb[i];
            }
        }
        sums[0] = Total(a) + ta;
        sums[1] = Total(p) + tp;
        sums[2] = Total(b) + tb;
        sums[3] = Total(q) + tq;
    }

    /// <summary>The scalar ends [i, plane) of four channels' slices: Σx, or Σ(x − centre[k])², added to tails[k].</summary>
    private static void Tails(float* pa, float* pb, float* pc, float* pd, int i, int plane, double* centre, double* tails)
    {
        for (; i < plane; i++)
        {
            if (centre == null)
            {
                tails[0] += pa[i];
                tails[1] += pb[i];
                tails[2] += pc[i];
                tails[3] += pd[i];
                continue;
            }
            double da = pa[i] - centre[0], db = pb[i] - centre[1], dc = pc[i] - centre[2], dd = pd[i] - centre[3];
            tails[0] += da * da;
            tails[1] += db * db;
            tails[2] += dc * dc;
            tails[3] += dd * dd;
        }
    }

    /// <summary>8 floats as 8 doubles: lanes 0–3 are the portable loop's low half, 4–7 its high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Widen(float* p) => Avx512F.ConvertToVector512Double(Avx.LoadVector256(p));

    /// <summary>Σ(s0 + s1), exactly as the portable loops finish.</summary>
    private static double Total(Vector512<double> s) => Vector.Sum((s.GetLower() + s.GetUpper()).AsVector());

    /// <summary><see cref="Four"/> with <see cref="Vector{T}"/>.</summary>
    private static void FourPortable(float* x, int batch, int channels, int plane, int c, double* centre, double* sums)
    {
        bool squares = centre != null;
        Vector<double> ma = squares ? new(centre[0]) : default, mb = squares ? new(centre[1]) : default,
            mc = squares ? new(centre[2]) : default, md = squares ? new(centre[3]) : default;
        Vector<double> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        double* tails = stackalloc double[4] { 0, 0, 0, 0 };
        int w = Vector<float>.Count;
        for (int n = 0; n < batch; n++)
        {
            float* pa = x + (long)(n * channels + c) * plane, pb = pa + plane, pc = pb + plane, pd = pc + plane;
            int i = 0;
            if (squares)
            {
                for (; i <= plane - w; i += w)
                {
                    AddSquares(pa + i, ma, ref a0, ref a1);
                    AddSquares(pb + i, mb, ref b0, ref b1);
                    AddSquares(pc + i, mc, ref c0, ref c1);
                    AddSquares(pd + i, md, ref d0, ref d1);
                }
                Tails(pa, pb, pc, pd, i, plane, centre, tails);
                continue;
            }
            for (; i <= plane - w; i += w)
            {
                Add(pa + i, ref a0, ref a1);
                Add(pb + i, ref b0, ref b1);
                Add(pc + i, ref c0, ref c1);
                Add(pd + i, ref d0, ref d1);
            }
            Tails(pa, pb, pc, pd, i, plane, centre, tails);
        }
        sums[0] = Vector.Sum(a0 + a1) + tails[0];
        sums[1] = Vector.Sum(b0 + b1) + tails[1];
        sums[2] = Vector.Sum(c0 + c1) + tails[2];
        sums[3] = Vector.Sum(d0 + d1) + tails[3];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(float* p, ref Vector<double> s0, ref Vector<double> s1)
    {
        Vector.Widen(Unsafe.ReadUnaligned<Vector<float>>(p), out var lo, out var hi);
        s0 += lo;
        s1 += hi;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSquares(float* p, Vector<double> m, ref Vector<double> s0, ref Vector<double> s1)
    {
        Vector.Widen(Unsafe.ReadUnaligned<Vector<float>>(p), out var lo, out var hi);
        lo -= m;
        hi -= m;
        s0 += lo * lo;
        s1 += hi * hi;
    }

    /// <summary><see cref="GradientPair"/> with <see cref="Vector{T}"/>.</summary>
    private static void GradientPairPortable(float* dy, float* xhat, int batch, int channels, int plane, int c, double* sums)
    {
        Vector<double> a0 = default, a1 = default, p0 = default, p1 = default, b0 = default, b1 = default, q0 = default, q1 = default;
        double ta = 0, tp = 0, tb = 0, tq = 0;
        int w = Vector<float>.Count;
        for (int n = 0; n < batch; n++)
        {
            long start = (long)(n * channels + c) * plane;
            float* da = dy + start, ha = xhat + start, db = da + plane, hb = ha + plane;
            int i = 0;
            for (; i <= plane - w; i += w)
            {
                AddGradient(da + i, ha + i, ref a0, ref a1, ref p0, ref p1);
                AddGradient(db + i, hb + i, ref b0, ref b1, ref q0, ref q1);
            }
            for (; i < plane; i++)
            {
                ta += da[i];
                tp += da[i] * ha[i];
                tb += db[i];
                tq += db[i] * hb[i];
            }
        }
        sums[0] = Vector.Sum(a0 + a1) + ta;
        sums[1] = Vector.Sum(p0 + p1) + tp;
        sums[2] = Vector.Sum(b0 + b1) + tb;
        sums[3] = Vector.Sum(q0 + q1) + tq;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddGradient(float* dy, float* xhat, ref Vector<double> a0, ref Vector<double> a1,
        ref Vector<double> p0, ref Vector<double> p1)
    {
        var d = Unsafe.ReadUnaligned<Vector<float>>(dy);
        Vector.Widen(d, out var lo, out var hi);
        a0 += lo;
        a1 += hi;
        Vector.Widen(d * Unsafe.ReadUnaligned<Vector<float>>(xhat), out lo, out hi);
        p0 += lo;
        p1 += hi;
    }
}
