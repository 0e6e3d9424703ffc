namespace Mnist.Core.Kernels;

/// <summary>One stored operand of a GEMM, seen through op(): element (row, col) of op(X) is at Ptr + (Trans ? col·Ld + row : row·Ld + col).</summary>
internal readonly unsafe struct GemmOperand(float* ptr, int ld, bool trans)
{
    public readonly float* Ptr = ptr;
    public readonly int Ld = ld;
    public readonly bool Trans = trans;
}

/// <summary>
/// C (m×n, row-major, ldc) = op(A)·op(B) + beta·C with op(A) m×k and op(B) k×n. When op(A) is the
/// same across many products (a convolution's weights, image after image), PackedA may point to it
/// packed once by <see cref="GemmDriver.PackWholeA"/>, and the products skip packing it. PackedB may
/// point to op(B) written straight into the packed layout (<see cref="GemmDriver.PackBRow"/>) by
/// whoever produces it (im2col), which saves writing it plainly and packing it again; B is then unused.
/// </summary>
internal readonly unsafe struct GemmProblem(int m, int n, int k, GemmOperand a, GemmOperand b, float* c, int ldc, float beta,
    float* packedA = null, float* packedB = null)
{
    public readonly float* PackedA = packedA, PackedB = packedB;
    public readonly int M = m, N = n, K = k;
    public readonly GemmOperand A = a, B = b;
    public readonly float* C = c;
    public readonly int Ldc = ldc;
    public readonly float Beta = beta;
    public double Flops => 2.0 * M * N * K;
}
