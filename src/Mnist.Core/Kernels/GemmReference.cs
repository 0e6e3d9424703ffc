namespace Mnist.Core.Kernels;

/// <summary>The plain triple loop that <see cref="Gemm"/> is tested against.</summary>
public static class GemmReference
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, float beta = 0f)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0f;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[p * lda + i] : a[i * lda + p];
                    float bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                ref float cv = ref c[i * ldc + j];
                cv = beta == 0f ? sum : sum + beta * cv;
            }
    }
}
