using System.Runtime.Intrinsics;

namespace Mnist.Core.Augmentation;

/// <summary>
/// Turns a raw elastic field into displacements: the separable Gaussian of
/// <see cref="ElasticField.Kernel"/> along rows, then along columns, then × α. Both passes run on
/// whole 8-float vectors across x (the same operations in the same order on every machine); rows
/// are padded to a whole number of vectors and framed by zero margins of the kernel's radius, so
/// no lane needs a bounds check and the margins act as the zeros outside the image. Holds its
/// scratch buffers: one instance per thread.
/// </summary>
internal sealed class GaussianSmoother
{
    private const int Lanes = 8;
    private readonly int _height, _width, _radius, _lanesWidth, _rowStride;
    private readonly float[] _weights;
    private readonly float[] _rows;    // height × (lanesWidth + 2·radius): the raw field, zero margins left and right
    private readonly float[] _columns; // (height + 2·radius) × lanesWidth: the row pass, zero margins above and below
    private readonly float[] _smoothed; // height × lanesWidth: the column pass

    public GaussianSmoother(int height, int width, float sigma)
    {
        (_height, _width) = (height, width);
        _weights = ElasticField.Kernel(sigma);
        _radius = ElasticField.Radius(sigma);
        _lanesWidth = (width + Lanes - 1) / Lanes * Lanes;
        _rowStride = _lanesWidth + 2 * _radius;
        _rows = new float[height * _rowStride];
        _columns = new float[(height + 2 * _radius) * _lanesWidth];
        _smoothed = new float[height * _lanesWidth];
    }

    /// <summary>displacement = α · (Gaussian ∗ raw), both height × width.</summary>
    public unsafe void Smooth(ReadOnlySpan<float> raw, float alpha, Span<float> displacement)
    {
        int h = _height, w = _width, lanesWidth = _lanesWidth;
        if (raw.Length != h * w || displacement.Length != h * w) throw new ArgumentException("field size is not height × width");
        for (int y = 0; y < h; y++) raw.Slice(y * w, w).CopyTo(_rows.AsSpan(y * _rowStride + _radius, w));
        fixed (float* weights = _weights, rows = _rows, columns = _columns, smoothed = _smoothed)
        {
            // Lanes past the width hold values no real pixel reads: each lane only ever meets its own column.
            for (int y = 0; y < h; y++)
                Convolve(rows + y * _rowStride, 1, weights, _weights.Length, columns + (y + _radius) * lanesWidth, lanesWidth);
            for (int y = 0; y < h; y++)
                Convolve(columns + y * lanesWidth, lanesWidth, weights, _weights.Length, smoothed + y * lanesWidth, lanesWidth);
        }
        for (int y = 0; y < h; y++)
        {
            var from = _smoothed.AsSpan(y * lanesWidth, w);
            var to = displacement.Slice(y * w, w);
            for (int x = 0; x < w; x++) to[x] = alpha * from[x];
        }
    }

    /// <summary>
    /// to[j] = Σₖ weight[k]·from[j + k·step] for j in [0, count), count a multiple of 8: each output
    /// vector sums its taps in order k = 0, 1, …, and four vectors are summed side by side so their
    /// chains of dependent additions overlap instead of waiting on each other.
    /// </summary>
    private static unsafe void Convolve(float* from, nint step, float* weight, int taps, float* to, int count)
    {
        int j = 0;
        for (; j + 4 * Lanes <= count; j += 4 * Lanes)
        {
            float* f = from + j;
            var w0 = Vector256.Create(weight[0]);
            Vector256<float> a0 = w0 * Vector256.Load(f), a1 = w0 * Vector256.Load(f + Lanes),
                a2 = w0 * Vector256.Load(f + 2 * Lanes), a3 = w0 * Vector256.Load(f + 3 * Lanes);
            for (int k = 1; k < taps; k++)
            {
                f += step;
                var wk = Vector256.Create(weight[k]);
                a0 += wk * Vector256.Load(f);
                a1 += wk * Vector256.Load(f + Lanes);
                a2 += wk * Vector256.Load(f + 2 * Lanes);
                a3 += wk * Vector256.Load(f + 3 * Lanes);
            }
            a0.Store(to + j);
            a1.Store(to + j + Lanes);
            a2.Store(to + j + 2 * Lanes);
            a3.Store(to + j + 3 * Lanes);
        }
        for (; j < count; j += Lanes)
        {
            float* f = from + j;
            var a = Vector256.Create(weight[0]) * Vector256.Load(f);
            for (int k = 1; k < taps; k++) a += Vector256.Create(weight[k]) * Vector256.Load(f += step);
            a.Store(to + j);
        }
    }
}
