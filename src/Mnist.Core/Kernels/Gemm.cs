namespace Mnist.Core.Kernels;

/// <summary>
/// Single-precision matrix multiply, row-major: C = op(A)·op(B) + beta·C, where op(A) is m×k and
/// op(B) is k×n. lda/ldb/ldc are the row strides of the matrices as stored.
/// </summary>
public static class Gemm
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, float beta = 0f)
        => GemmReference.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, beta);
}
