using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Mnist.Core.Kernels;

/// <summary>
/// <see cref="Pooling"/>'s 2×2 stride-2 max pooling with AVX-512: sixteen outputs a step (a
/// 28-wide row in one step, where AVX2 takes two), the same branch-free window order and the same
/// winners as the AVX2 loops and the reference; short rows use masked loads and stores, so no
/// element outside the row is read or written.
/// </summary>
internal static unsafe class HalvingPool512
{
    private static Vector512<int> Lanes => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    private static Vector512<int> Evens => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static Vector512<int> Odds => Evens + Vector512<int>.One;
    /// <summary>Picks e0, o0, e1, o1, … from (even, odd): the first 16, then the last 16.</summary>
    private static Vector512<int> InterleaveLow => Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static Vector512<int> InterleaveHigh => InterleaveLow + Vector512.Create(8);

    private static Vector512<float> Below(int n) => Vector512.LessThan(Lanes, Vector512.Create(n)).AsSingle();

    /// <summary>Planes [p0, p1): y = the window maxima, argmax = their flat indices (first maximum in window order).</summary>
    public static void Forward(in PoolGeometry g, int p0, int p1, float* x, float* y, int* argmax)
    {
        int w = g.Width, ow = g.OutW, oh = g.OutH, inPlane = g.InPlane, outPlane = g.OutPlane;
        var width = Vector512.Create(w);
        for (int p = p0; p < p1; p++)
            for (int oy = 0; oy < oh; oy++)
            {
                int start = p * inPlane + 2 * oy * w;
                float* r0 = x + start, r1 = r0 + w;
                float* o = y + (long)p * outPlane + oy * ow;
                int* a = argmax + (long)p * outPlane + oy * ow;
                for (int ox = 0; ox < ow; ox += 16)
                {
                    int count = Math.Min(16, ow - ox);
                    var (e0, o0) = Deinterleave(r0 + 2 * ox, count);
                    var (e1, o1) = Deinterleave(r1 + 2 * ox, count);
                    var upper = Vector512.Create(start + 2 * ox) + Evens;
                    var lower = upper + width;
                    // Strictly greater, in window order: ties keep the earlier element.
                    var best = e0;
                    var index = upper;
                    var take = Vector512.GreaterThan(o0, best);
                    best = Vector512.ConditionalSelect(take, o0, best);
                    index = Vector512.ConditionalSelect(take.AsInt32(), upper + Vector512<int>.One, index);
                    take = Vector512.GreaterThan(e1, best);
                    best = Vector512.ConditionalSelect(take, e1, best);
                    index = Vector512.ConditionalSelect(take.AsInt32(), lower, index);
                    take = Vector512.GreaterThan(o1, best);
                    best = Vector512.ConditionalSelect(take, o1, best);
                    index = Vector512.ConditionalSelect(take.AsInt32(), lower + Vector512<int>.One, index);
                    if (count == 16)
                    {
                        Avx512F.Store(o + ox, best);
                        Avx512F.Store(a + ox, index);
                    }
                    else
                    {
                        var keep = Below(count);
                        Avx512F.MaskStore(o + ox, keep, best);
                        Avx512F.MaskStore(a + ox, keep.AsInt32(), index);
                    }
                }
            }
    }

    /// <summary>
    /// Planes [p0, p1) of dx: dy at each window's winner, +0 at its other three elements, a last odd
    /// row or column (which no window covers) cleared. False when a winner lies outside its window.
    /// </summary>
    public static bool Backward(in PoolGeometry g, int p0, int p1, float* dy, int* argmax, float* dx)
    {
        int w = g.Width, ow = g.OutW, oh = g.OutH, inPlane = g.InPlane, outPlane = g.OutPlane;
        Vector512<int> one = Vector512<int>.One, width = Vector512.Create(w), widthPlusOne = Vector512.Create(w + 1);
        var zero = Vector512<float>.Zero;
        for (int p = p0; p < p1; p++)
        {
            float* plane = dx + (long)p * inPlane;
            for (int oy = 0; oy < oh; oy++)
            {
                int start = p * inPlane + 2 * oy * w;
                float* r0 = plane + 2 * oy * w, r1 = r0 + w;
                float* d = dy + (long)p * outPlane + oy * ow;
                int* a = argmax + (long)p * outPlane + oy * ow;
                for (int ox = 0; ox < ow; ox += 16)
                {
                    int count = Math.Min(16, ow - ox);
                    var outMask = Below(count);
                    var grad = Avx512F.MaskLoad(d + ox, outMask, zero);
                    var rel = Avx512F.MaskLoad(a + ox, outMask.AsInt32(), Vector512<int>.Zero) - (Vector512.Create(start + 2 * ox) + Evens);
                    var topLeft = Vector512.Equals(rel, Vector512<int>.Zero);
                    var topRight = Vector512.Equals(rel, one);
                    var bottomLeft = Vector512.Equals(rel, width);
                    var bottomRight = Vector512.Equals(rel, widthPlusOne);
                    var inside = topLeft | topRight | bottomLeft | bottomRight | ~outMask.AsInt32();
                    if (!Vector512.EqualsAll(inside, Vector512<int>.AllBitsSet)) return false;
                    // + 0 turns a −0 gradient into +0, as 0 + dy does in the reference.
                    var tl = Vector512.ConditionalSelect(topLeft.AsSingle(), grad, zero) + zero;
                    var tr = Vector512.ConditionalSelect(topRight.AsSingle(), grad, zero) + zero;
                    var bl = Vector512.ConditionalSelect(bottomLeft.AsSingle(), grad, zero) + zero;
                    var br = Vector512.ConditionalSelect(bottomRight.AsSingle(), grad, zero) + zero;
                    StoreInterleaved(r0 + 2 * ox, tl, tr, count);
                    StoreInterleaved(r1 + 2 * ox, bl, br, count);
                }
                Pooling.ClearOddColumn(w, r0, r1);
            }
            Pooling.ClearRowsBelow(g, plane);
        }
        return true;
    }

    /// <summary>2·count consecutive floats (masked when count &lt; 16) → (those at even positions, those at odd positions).</summary>
    private static (Vector512<float> Even, Vector512<float> Odd) Deinterleave(float* p, int count)
    {
        Vector512<float> lo, hi;
        if (count == 16)
        {
            lo = Avx512F.LoadVector512(p);
            hi = Avx512F.LoadVector512(p + 16);
        }
        else
        {
            lo = Avx512F.MaskLoad(p, Below(2 * count), Vector512<float>.Zero);
            hi = Avx512F.MaskLoad(p + 16, Below(2 * count - 16), Vector512<float>.Zero);
        }
        return (Avx512F.PermuteVar16x32x2(lo, Evens, hi), Avx512F.PermuteVar16x32x2(lo, Odds, hi));
    }

    /// <summary>Writes e0, o0, e1, o1, … (2·count floats).</summary>
    private static void StoreInterleaved(float* p, Vector512<float> even, Vector512<float> odd, int count)
    {
        var first = Avx512F.PermuteVar16x32x2(even, InterleaveLow, odd);
        var second = Avx512F.PermuteVar16x32x2(even, InterleaveHigh, odd);
        if (count == 16)
        {
            Avx512F.Store(p, first);
            Avx512F.Store(p + 16, second);
            return;
        }
        Avx512F.MaskStore(p, Below(2 * count), first);
        Avx512F.MaskStore(p + 16, Below(2 * count - 16), second);
    }
}
