namespace Mnist.Core.Augmentation;

/// <summary>
/// The plain float64 computation that <see cref="Augmenter"/> is tested against, written from the
/// definitions rather than from the fast code: the inverse transform composed from inverse
/// rotation, shear and zoom (not a matrix inversion), the Gaussian as a direct 2-D sum with
/// Math.Exp, and bilinear interpolation that checks every neighbour against the image bounds.
/// </summary>
public static class AugmentationReference
{
    /// <summary>The distorted image in [0, 1] units (height × width), before normalisation.</summary>
    public static double[] Transform(ReadOnlySpan<byte> image, int height, int width, AffineTransform affine,
        ReadOnlySpan<float> rawX, ReadOnlySpan<float> rawY, double alpha, double sigma)
    {
        var shiftX = alpha > 0 ? Smooth(rawX, height, width, sigma) : new double[height * width];
        var shiftY = alpha > 0 ? Smooth(rawY, height, width, sigma) : new double[height * width];
        double theta = affine.RotationDegrees * Math.PI / 180, tan = Math.Tan(affine.ShearDegrees * Math.PI / 180);
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        var output = new double[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                // undo the shift, then the rotation (turn clockwise on screen), the shear and the zoom
                double u = x - cx - affine.ShiftX, v = y - cy - affine.ShiftY;
                (u, v) = (u * Math.Cos(theta) - v * Math.Sin(theta), u * Math.Sin(theta) + v * Math.Cos(theta));
                u += tan * v;
                (u, v) = (u / affine.Scale, v / affine.Scale);
                int p = y * width + x;
                output[p] = Bilinear(image, height, width, cx + u + alpha * shiftX[p], cy + v + alpha * shiftY[p]);
            }
        return output;
    }

    private static double Bilinear(ReadOnlySpan<byte> image, int height, int width, double sx, double sy)
    {
        int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
        double fx = sx - x0, fy = sy - y0;
        double top = (1 - fx) * At(image, height, width, x0, y0) + fx * At(image, height, width, x0 + 1, y0);
        double bottom = (1 - fx) * At(image, height, width, x0, y0 + 1) + fx * At(image, height, width, x0 + 1, y0 + 1);
        return (1 - fy) * top + fy * bottom;
    }

    /// <summary>Pixel (x, y) in [0, 1]; 0 outside the image.</summary>
    private static double At(ReadOnlySpan<byte> image, int height, int width, int x, int y) =>
        x >= 0 && x < width && y >= 0 && y < height ? image[y * width + x] / 255.0 : 0.0;

    /// <summary>Gaussian ∗ raw, zero outside the image, the Gaussian truncated at ⌈3σ⌉ and normalised.</summary>
    private static double[] Smooth(ReadOnlySpan<float> raw, int height, int width, double sigma)
    {
        int radius = (int)Math.Ceiling(3 * sigma);
        var weight = new double[2 * radius + 1];
        for (int k = -radius; k <= radius; k++) weight[k + radius] = Math.Exp(-k * k / (2 * sigma * sigma));
        double total = weight.Sum();
        var smoothed = new double[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double sum = 0;
                for (int dy = -radius; dy <= radius; dy++)
                    for (int dx = -radius; dx <= radius; dx++)
                    {
                        int yy = y + dy, xx = x + dx;
                        if (yy >= 0 && yy < height && xx >= 0 && xx < width)
                            sum += weight[dy + radius] * weight[dx + radius] * raw[yy * width + xx];
                    }
                smoothed[y * width + x] = sum / (total * total);
            }
        return smoothed;
    }
}
