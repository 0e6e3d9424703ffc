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
/// arithmetic wherever it sits (a vectorised run equals a scalar one bit for bit). Large
/// parameters (the classic network's 3136×128 weights) are cut into whole-vector chunks for the
/// kernel threads: serial, their update kept the other core idle for 2% of an epoch.
/// </summary>
internal static unsafe class UpdateLoop
{
    public static void Run<TRule>(in TRule rule, Span<float> p, ReadOnlySpan<float> g, Span<float> s0, Span<float> s1)
        where TRule : struct, IElementRule
    {
        int n = p.Length;
        if (g.Length != n) throw new ArgumentException($"gradient has {g.Length} elements, parameter {n}");
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty;
        if ((has0 && s0.Length != n) || (has1 && s1.Length != n))
            throw new ArgumentException("optimizer state does not match the parameter size");
        int chunks = Elementwise.Chunks(n);
        if (chunks <= 1)
        {
            RunSerial(rule, p, g, s0, s1);
            return;
        }
        fixed (float* pp = p, pg = g, p0 = s0, p1 = s1)
        {
            var job = Chunked<TRule>.Job ??= new Chunked<TRule>();
            job.Set(rule, n, chunks, pp, pg, p0, p1);
            KernelThreads.For(chunks, job);
        }
    }

    /// <summary>Chunk c of n elements, cut as <see cref="Elementwise"/>'s passes are: whole vectors but for the last chunk, so the tail stays at the end.</summary>
    private sealed class Chunked<TRule> : IParallelWork where TRule : struct, IElementRule
    {
        [ThreadStatic] public static Chunked<TRule>? Job;

        private TRule _rule;
        private int _n, _chunks;
        private float* _p, _g, _s0, _s1;

        public void Set(in TRule rule, int n, int chunks, float* p, float* g, float* s0, float* s1)
        {
            _rule = rule; _n = n; _chunks = chunks; _p = p; _g = g; _s0 = s0; _s1 = s1;
        }

        public void Run(int chunk, int thread)
        {
            int start = Elementwise.ChunkStart(_n, _chunks, chunk), length = Elementwise.ChunkStart(_n, _chunks, chunk + 1) - start;
            RunSerial(_rule, new Span<float>(_p + start, length), new ReadOnlySpan<float>(_g + start, length),
                _s0 == null ? default : new Span<float>(_s0 + start, length), _s1 == null ? default : new Span<float>(_s1 + start, length));
        }
    }

    private static void RunSerial<TRule>(in TRule rule, Span<float> p, ReadOnlySpan<float> g, Span<float> s0, Span<float> s1)
        where TRule : struct, IElementRule
    {
        int n = p.Length;
        bool has0 = !s0.IsEmpty, has1 = !s1.IsEmpty;
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
