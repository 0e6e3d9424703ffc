using System.Runtime.Intrinsics;
using Mnist.Core.Data;

namespace Mnist.Core.Augmentation;

/// <summary>
/// Distorts single images as an <see cref="AugmentationSpec"/> says: one random affine transform
/// and, when the spec asks, one elastic field per image, combined into a single bilinear
/// resampling (zero outside the image), then normalised. What an image becomes depends only on
/// the spec and its key (<see cref="AugmentationKey"/>). Holds its scratch buffers and random
/// generator, allocated once: use one instance per thread.
/// </summary>
public sealed class Augmenter
{
    /// <summary>The normalisation that leaves values in [0, 1] (for pictures of what the network sees).</summary>
    public static Normalization Unit { get; } = new(0, 1);

    private static readonly float[] UnitOfByte = Enumerable.Range(0, 256).Select(v => v / 255f).ToArray();

    private readonly WarpGeometry _geometry;
    private readonly GaussianSmoother? _smoother;
    private readonly Rng _rng = new(0);
    private readonly float[] _source, _warped, _rawX, _rawY, _shiftX, _shiftY;

    public Augmenter(AugmentationSpec spec, int height, int width)
    {
        Spec = spec.Validate();
        _geometry = new WarpGeometry(height, width);
        _source = new float[_geometry.SourceLength];
        _warped = new float[_geometry.PaddedPixels];
        bool elastic = spec.ElasticAlpha > 0;
        if (elastic) _smoother = new GaussianSmoother(height, width, spec.ElasticSigma);
        _rawX = new float[elastic ? _geometry.Pixels : 0];
        _rawY = new float[_rawX.Length];
        // padded to whole vectors for the sampler; the extra lanes stay 0
        _shiftX = new float[elastic ? _geometry.PaddedPixels : 0];
        _shiftY = new float[_shiftX.Length];
    }

    public AugmentationSpec Spec { get; }
    public int Height => _geometry.Height;
    public int Width => _geometry.Width;

    /// <summary>Writes the image's distortion for this key, normalised, to <paramref name="output"/> (height × width).</summary>
    public void Augment(ReadOnlySpan<byte> image, ulong key, Normalization normalization, Span<float> output)
    {
        _rng.Reseed(key);
        var affine = AffineTransform.Draw(Spec, _rng, Height, Width);
        if (_smoother is not null) ElasticField.Draw(_rng, _rawX, _rawY);
        Apply(image, affine, _rawX, _rawY, normalization, output);
    }

    /// <summary>
    /// Applies given random choices: the affine transform and, when the spec has an elastic part,
    /// the raw fields of <see cref="ElasticField.Draw"/> (ignored otherwise).
    /// </summary>
    public void Apply(ReadOnlySpan<byte> image, AffineTransform affine, ReadOnlySpan<float> rawX, ReadOnlySpan<float> rawY,
        Normalization normalization, Span<float> output)
    {
        int pixels = _geometry.Pixels;
        if (image.Length != pixels || output.Length != pixels) throw new ArgumentException($"images must hold {Height}×{Width} pixels");
        _geometry.LoadSource(image, UnitOfByte, _source);
        if (_smoother is not null)
        {
            _smoother.Smooth(rawX, Spec.ElasticAlpha, _shiftX.AsSpan(0, pixels));
            _smoother.Smooth(rawY, Spec.ElasticAlpha, _shiftY.AsSpan(0, pixels));
        }
        BilinearWarp.Sample(_geometry, _source, affine.SamplingMatrix(Height, Width), _shiftX, _shiftY, _warped);
        Normalize(_warped.AsSpan(0, pixels), normalization, output);
    }

    /// <summary>(v − mean) / std, the very operations of <see cref="Normalization.Apply(float)"/>, so an untouched image matches BatchLoader bit for bit.</summary>
    private static void Normalize(ReadOnlySpan<float> unit, Normalization normalization, Span<float> output)
    {
        var (mean, std) = (Vector256.Create(normalization.Mean), Vector256.Create(normalization.Std));
        int i = 0;
        for (; i + Vector256<float>.Count <= unit.Length; i += Vector256<float>.Count)
            ((Vector256.Create(unit[i..]) - mean) / std).CopyTo(output[i..]);
        for (; i < unit.Length; i++) output[i] = normalization.Apply(unit[i]);
    }
}
