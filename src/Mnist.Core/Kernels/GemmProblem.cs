namespace Mnist.Core.Kernels;

/// <summary>
/// One stored operand of a GEMM, seen through op(): element (row, col) of op(X) lives at
/// Ptr + seg·SegStride + (Trans ? col'·Ld + row : row·Ld + col'), where the K index is split into
/// segments of equal length (seg, col'). One segment is an ordinary strided matrix; several let a
/// convolution sum over the images of a batch in one GEMM without copying them side by side.
/// </summary>
internal readonly unsafe struct GemmOperand(float* ptr, int ld, bool trans, long segStride = 0)
{
    public readonly float* Ptr = ptr;
    public readonly int Ld = ld;
    public readonly bool Trans = trans;
    public readonly long SegStride = segStride;
}

/// <summary>C (m×n, row-major, ldc) = op(A)·op(B) + beta·C with K = SegLen·SegCount.</summary>
internal readonly unsafe struct GemmProblem(int m, int n, int segLen, int segCount,
    GemmOperand a, GemmOperand b, float* c, int ldc, float beta)
{
    public readonly int M = m, N = n, SegLen = segLen, SegCount = segCount;
    public readonly GemmOperand A = a, B = b;
    public readonly float* C = c;
    public readonly int Ldc = ldc;
    public readonly float Beta = beta;
    public int K => SegLen * SegCount;
    public double Flops => 2.0 * M * N * K;
}
