namespace Mnist.Core.Augmentation;

/// <summary>
/// Where the sampler reads for output pixel (x, y): source x = Xx·x + Xy·y + X0 and source
/// y = Yx·x + Yy·y + Y0, pixel centres at integer coordinates.
/// </summary>
public readonly record struct SamplingMatrix(float Xx, float Xy, float X0, float Yx, float Yy, float Y0);

/// <summary>
/// One image's affine distortion about the image centre: zoom by <see cref="Scale"/>, shear,
/// rotate, then shift. Positive angles turn the digit counter-clockwise as seen on screen;
/// positive shear slants it like italics (the top moves right); positive shifts move it right and down.
/// </summary>
/// <param name="ShiftX">Horizontal shift in pixels.</param>
/// <param name="ShiftY">Vertical shift in pixels.</param>
public readonly record struct AffineTransform(float RotationDegrees, float Scale, float ShearDegrees, float ShiftX, float ShiftY)
{
    public static AffineTransform Identity => new(0, 1, 0, 0, 0);

    /// <summary>
    /// Draws the five parameters from the spec's ranges, uniformly and always in the same order
    /// (rotation, scale, shear, shift x, shift y), so a range of 0 leaves the others' draws as they were.
    /// </summary>
    public static AffineTransform Draw(AugmentationSpec spec, Rng rng, int height, int width)
    {
        float rotation = Uniform(rng, spec.Rotation), scale = 1 + Uniform(rng, spec.Scale), shear = Uniform(rng, spec.Shear);
        float shiftX = Uniform(rng, spec.Translate) * width, shiftY = Uniform(rng, spec.Translate) * height;
        return new(rotation, scale, shear, shiftX, shiftY);
    }

    /// <summary>Uniform in [−range, range); exactly 0 (not −0) for a range of 0, but a number is drawn either way.</summary>
    private static float Uniform(Rng rng, float range)
    {
        float u = 2 * rng.NextFloat() - 1;
        return range == 0 ? 0 : u * range;
    }

    /// <summary>
    /// The inverse map, from output pixels back to the source, in float64 and then rounded: with
    /// A = Scale·R·Sh the forward map is out − c = A(src − c) + shift about the centre c, so
    /// src = c + A⁻¹(out − c − shift). The identity gives exactly (1, 0, 0, 0, 1, 0).
    /// </summary>
    public SamplingMatrix SamplingMatrix(int height, int width)
    {
        const double radians = Math.PI / 180;
        var (sin, cos) = PortableMath.SinCos(RotationDegrees * radians);
        var (shearSin, shearCos) = PortableMath.SinCos(ShearDegrees * radians);
        double tan = shearSin / shearCos;
        // R = [[cos, sin], [−sin, cos]] turns counter-clockwise on a y-down screen; Sh = [[1, −tan], [0, 1]].
        double a00 = Scale * cos, a01 = Scale * (sin - tan * cos);
        double a10 = -Scale * sin, a11 = Scale * (cos + tan * sin);
        double det = a00 * a11 - a01 * a10;
        double i00 = a11 / det, i01 = -a01 / det, i10 = -a10 / det, i11 = a00 / det;
        double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
        double fromX = cx + ShiftX, fromY = cy + ShiftY;
        return new((float)i00, (float)i01, (float)(cx - i00 * fromX - i01 * fromY),
            (float)i10, (float)i11, (float)(cy - i10 * fromX - i11 * fromY));
    }
}
