namespace Mnist.Core.Imaging;

/// <summary>A rectangle of pixels: left, top, width, height.</summary>
public readonly record struct PixelBox(int X, int Y, int Width, int Height)
{
    public int LongerSide => Math.Max(Width, Height);
}

/// <summary>A position in pixel-index coordinates (x right, y down; pixel (0,0)'s centre is at (0,0)).</summary>
public readonly record struct ImagePoint(double X, double Y);

/// <summary>Settings of <see cref="DigitPreprocessor"/>; the defaults reproduce MNIST's framing.</summary>
public sealed record DigitPreprocessOptions
{
    public static DigitPreprocessOptions Default { get; } = new();

    /// <summary>
    /// Ink at or below this (0..1) is "no ink": it decides emptiness and the bounding box. Higher
    /// values ignore more noise but cut MNIST's faint anti-aliased edges out of the box: re-preparing
    /// the 10,000 MNIST test digits changes 3 of them noticeably at 0, 35 at 0.1, 112 at 0.2.
    /// </summary>
    public float InkThreshold { get; init; } = 0.1f;

    /// <summary>
    /// A drawing whose ink box's longer side is below this fraction of the input's longer side is
    /// a stray mark, reported empty (a click on a 280 px canvas, not a digit).
    /// </summary>
    public float MinInkExtent { get; init; } = 0.04f;

    /// <summary>Rescale the ink so its maximum is 1 (faint pencil, grey pens); MNIST's maxima are 254-255.</summary>
    public bool StretchContrast { get; init; } = true;

    /// <summary>The longer side of the ink box after scaling (MNIST: 20).</summary>
    public int BoxSize { get; init; } = 20;

    /// <summary>The output's width and height (MNIST: 28); the centre of mass goes to (Size/2, Size/2).</summary>
    public int CanvasSize { get; init; } = 28;

    /// <summary>
    /// Skip cropping and scaling: only move the ink so its centre of mass is at the centre. For
    /// inputs already CanvasSize × CanvasSize and size-normalised; others are refused.
    /// </summary>
    public bool CentreOnly { get; init; }
}

/// <summary>
/// A drawing prepared the way MNIST digits were: <see cref="Pixels"/> holds CanvasSize² values in
/// [0,1], ink 1, row-major. When <see cref="IsEmpty"/> there was no digit (the pixels are all 0);
/// a caller should say so rather than classify. Coordinates are pixel indices (x right, y down).
/// </summary>
public sealed record PreparedDigit
{
    public required float[] Pixels { get; init; }
    public required int Size { get; init; }
    public required bool IsEmpty { get; init; }
    /// <summary>Where the ink came from (alpha, inverted dark-on-light, or as is).</summary>
    public required InkSource InkSource { get; init; }
    /// <summary>The ink's bounding box in the input image.</summary>
    public PixelBox InkBox { get; init; }
    /// <summary>The ink's centre of mass in the input image (inside <see cref="InkBox"/>).</summary>
    public ImagePoint SourceCentreOfMass { get; init; }
    /// <summary>Output pixels per input pixel (BoxSize / the ink box's longer side; 1 for CentreOnly).</summary>
    public double Scale { get; init; }
    /// <summary>Where the scaled ink box was placed in the output.</summary>
    public PixelBox PlacedBox { get; init; }
    /// <summary>The output's centre of mass (MNIST: within half a pixel of (14, 14) unless the box hit an edge).</summary>
    public ImagePoint CentreOfMass { get; init; }
}
