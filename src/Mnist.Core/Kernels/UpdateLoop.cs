using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Mnist.Core.Kernels;

/// <summary>
/// One optimizer's per-element rule, written once over <see cref="Vector{T}"/>. It returns the new
/// parameter value and may update up to two state values in place.
/// </summary>
internal interface IElementRule
{
    Vector<float> Apply(Vector<float> p, Vector<float> g, ref Vector<float> s0, ref Vector<float> s1);
}

/// <summary>
/// Runs an <see cref="IElementRule"/> over a parameter. Whole vectors go straight through; the
/// tail goes through a zero-padded scratch vector, so every element gets exactly the same
/// arithmetic wherever it sits (a vectorised run equals a scalar one bit for bit).
/// </summary>
internal static class UpdateLoop
{
    public static void Run<TRule>(in TRule rule, Span<float> p, ReadOnlySpan<float> g, Span<float> s0, Span<float> s1)
        where TRule : struct, IElementRule
    {
        int n = p.Length;
        if (g.Length != n) throw new ArgumentException($"gradient has {g.Length} elements, parameter {n}");
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty;
        if ((has0 && s0.Length != n) || (has1 && s1.Length != n))
            throw new ArgumentException("optimizer state does not match the parameter size");

        ref float rp = ref MemoryMarshal.GetReference(p);
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float r0 = ref MemoryMarshal.GetReference(s0);
        ref float r1 = ref MemoryMarshal.GetReference(s1);
        int w = Vector<float>.Count;
        int i = 0;
        for (; i <= n - w; i += w)
        {
            nuint at = (nuint)i;
            var a = has0 ? Vector.LoadUnsafe(ref r0, at) : default;
            var b = has1 ? Vector.LoadUnsafe(ref r1, at) : default;
            var pv = rule.Apply(Vector.LoadUnsafe(ref rp, at), Vector.LoadUnsafe(ref rg, at), ref a, ref b);
            pv.StoreUnsafe(ref rp, at);
            if (has0) a.StoreUnsafe(ref r0, at);
            if (has1) b.StoreUnsafe(ref r1, at);
        }
        if (i < n) RunTail(rule, p[i..], g[i..], has0 ? s0[i..] : default, has1 ? s1[i..] : default);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RunTail<TRule>(in TRule rule, Span<float> p, ReadOnlySpan<float> g, Span<float> s0, Span<float> s1)
        where TRule : struct, IElementRule
    {
        int w = Vector<float>.Count, rest = p.Length;
        Span<float> scratch = stackalloc float[4 * w];
        scratch.Clear();
        Span<float> sp = scratch[..w], sg = scratch.Slice(w, w), sa = scratch.Slice(2 * w, w), sb = scratch.Slice(3 * w, w);
        p.CopyTo(sp);
        g.CopyTo(sg);
        s0.CopyTo(sa);
        s1.CopyTo(sb);
        var a = new Vector<float>(sa);
        var b = new Vector<float>(sb);
        rule.Apply(new Vector<float>(sp), new Vector<float>(sg), ref a, ref b).CopyTo(sp);
        a.CopyTo(sa);
        b.CopyTo(sb);
        sp[..rest].CopyTo(p);
        if (!s0.IsEmpty) sa[..rest].CopyTo(s0);
        if (!s1.IsEmpty) sb[..rest].CopyTo(s1);
    }
}
