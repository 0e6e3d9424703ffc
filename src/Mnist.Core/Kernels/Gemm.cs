namespace Mnist.Core.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C = op(A)·op(B) + beta·C, where op(A) is m×k and
/// op(B) is k×n. lda/ldb/ldc are the row strides of the matrices as stored.
/// Packed and register-blocked: 6×32 AVX-512 tiles where the CPU has them, else 6×16 AVX2+FMA tiles,
/// else a portable <see cref="System.Numerics.Vector{T}"/> tile; threaded over
/// <see cref="KernelThreads.MaxThreads"/> cores without ever splitting K, so the result does not
/// depend on the thread count. beta = 0 never reads C. Allocates nothing once warm.
/// </summary>
public static class Gemm
{
    public static unsafe void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, float beta = 0f)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"negative GEMM size {m}×{n}×{k}");
        if (m == 0 || n == 0) return;
        CheckOperand("C", c.Length, m, n, ldc);
        if (k > 0)
        {
            CheckOperand("A", a.Length, transA ? k : m, transA ? m : k, lda);
            CheckOperand("B", b.Length, transB ? n : k, transB ? k : n, ldb);
        }
        fixed (float* pa = a, pb = b, pc = c)
        {
            var problem = new GemmProblem(m, n, k,
                new GemmOperand(pa, lda, transA), new GemmOperand(pb, ldb, transB), pc, ldc, beta);
            GemmDriver.Run(problem);
        }
    }

    /// <summary>The threads GEMM and the other kernels use; see <see cref="KernelThreads.MaxThreads"/>.</summary>
    public static int MaxThreads
    {
        get => KernelThreads.MaxThreads;
        set => KernelThreads.MaxThreads = value;
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (ld < cols || (long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"GEMM operand {name} ({rows}×{cols}, stride {ld}) does not fit in {length} floats");
    }
}
