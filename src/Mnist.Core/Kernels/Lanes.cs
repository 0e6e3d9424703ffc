using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mnist.Core.Kernels;

/// <summary>Unaligned <see cref="Vector{T}"/> loads and stores at an element offset, for the element-wise kernels.</summary>
internal static class Lanes
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Load(ref float start, int i) =>
        Unsafe.ReadUnaligned<Vector<float>>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref start, i)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<float> v, ref float start, int i) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref start, i)), v);
}
