using Microsoft.AspNetCore.Http;
using Mnist.Core.Imaging;
using Mnist.Core.Inference;
using Mnist.Imaging;

namespace Mnist.Web;

/// <summary>A point in the 28×28 image (pixel indices).</summary>
public sealed record PointDto(double X, double Y);

/// <summary>A rectangle in the input image.</summary>
public sealed record BoxDto(int X, int Y, int Width, int Height);

/// <summary>The first convolution's maps, tiled into one greyscale PNG (each map scaled to its own maximum).</summary>
public sealed record FeatureMapsDto(int Layer, int Channels, int Width, int Height, int Columns, int Gap, string Png);

/// <summary>The answer of POST /api/predict.</summary>
public sealed record PredictResponse
{
    /// <summary>True when there was no digit to classify: then <see cref="Digit"/> is null and <see cref="Message"/> says so.</summary>
    public bool Empty { get; init; }
    public string? Message { get; init; }
    public int? Digit { get; init; }
    public float? Confidence { get; init; }
    public float[]? Probabilities { get; init; }
    /// <summary>The 28×28 image the network saw, row by row, ink 1 (rounded to 3 decimals).</summary>
    public required float[] Image { get; init; }
    public int Size { get; init; } = 28;
    public PointDto? CentreOfMass { get; init; }
    public BoxDto? InkBox { get; init; }
    public string? InkSource { get; init; }
    public FeatureMapsDto? FeatureMaps { get; init; }
}

/// <summary>
/// The pipeline every request goes through: image decoding (<see cref="ImageDecoder"/>: the
/// declared size checked first, photos brought down to a working size), MNIST-style preparation
/// (<see cref="DigitPreprocessor"/>: 20-px box, centre of mass at (14, 14)), then the network. An
/// empty drawing is answered "draw a digit", not classified.
/// </summary>
public static class DigitAnalyzer
{
    /// <summary>Largest image accepted: 16 MP, 8192 on a side (a phone photo fits; a drawing is far smaller).</summary>
    public static readonly ImageLimits Limits = ImageLimits.Default;

    public const string EmptyMessage = "draw a digit";

    public static PreparedDigit Prepare(DigitRequest request)
    {
        if (request.Pixels is { } pixels)
            return DigitPreprocessor.Prepare(pixels, 28, 28, InkPolarity.BrightInk);
        try
        {
            return ImageDecoder.PrepareDigit(request.Image, Limits);
        }
        catch (ImageFormatException e)
        {
            throw ApiException.BadRequest(e.Code, e.Message);
        }
    }

    public static async Task<PredictResponse> AnalyzeAsync(ServedModel model, DigitRequest request, CancellationToken cancel)
    {
        var digit = Prepare(request);
        if (digit.IsEmpty)
            return new PredictResponse { Empty = true, Message = EmptyMessage, Image = digit.Pixels, InkSource = digit.InkSource.ToString() };
        if (digit.Pixels.Length != model.PixelCount)
            throw ApiException.BadRequest(ApiErrorCode.WrongLength, $"the model expects {model.PixelCount} pixels");
        (Prediction, FeatureMaps?) Classify(Predictor p) =>
            request.FeatureMaps ? p.PredictWithFeatureMaps(digit.Pixels) : (p.Predict(digit.Pixels), null);
        var (prediction, maps) = await model.Pool.Run(Classify, cancel);
        if (!prediction.Probabilities.All(float.IsFinite))
            throw new ApiException(StatusCodes.Status500InternalServerError, ApiErrorCode.ModelFailed,
                "the served model's output for this image is not a number (its weights overflow); serve another model");
        return new PredictResponse
        {
            Digit = prediction.Digit,
            Confidence = prediction.Confidence,
            Probabilities = prediction.Probabilities,
            Image = Rounded(digit.Pixels),
            Size = digit.Size,
            CentreOfMass = new PointDto(Math.Round(digit.CentreOfMass.X, 3), Math.Round(digit.CentreOfMass.Y, 3)),
            InkBox = new BoxDto(digit.InkBox.X, digit.InkBox.Y, digit.InkBox.Width, digit.InkBox.Height),
            InkSource = digit.InkSource.ToString(),
            FeatureMaps = maps is null ? null : FeatureMapSheet.Of(maps),
        };
    }

    private static float[] Rounded(float[] pixels)
    {
        var rounded = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) rounded[i] = MathF.Round(pixels[i] * 1000f) / 1000f;
        return rounded;
    }
}
