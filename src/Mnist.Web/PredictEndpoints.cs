using Microsoft.AspNetCore.Http;
using Microsoft.OpenApi;

namespace Mnist.Web;

/// <summary>The JSON form of POST /api/predict, for its OpenAPI description (<see cref="PredictRequestReader"/> parses it).</summary>
/// <param name="Pixels">784 grey levels in 0..1, row by row, ink 1.</param>
/// <param name="Image">A data URL of a PNG, JPEG, WebP, GIF or BMP image ("data:image/png;base64,...").</param>
/// <param name="FeatureMaps">Also answer the first convolution's feature maps.</param>
public sealed record PredictJson(float[]? Pixels, string? Image, bool? FeatureMaps);

/// <summary>POST /api/predict and GET /api/model, described for /openapi/v1.json.</summary>
public static class PredictEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/api/predict", async (HttpContext context, ModelHost host, ServeOptions options) =>
            {
                var model = host.Current;
                var request = await PredictRequestReader.ReadAsync(context.Request, model.PixelCount, options.MaxBodyBytes, context.RequestAborted);
                var answer = await DigitAnalyzer.AnalyzeAsync(model, request, context.RequestAborted);
                return Results.Json(answer, WebJson.Options);
            })
            .RequireRateLimiting(Overload.PredictPolicy)
            .WithName("Predict")
            .WithSummary("Classify a handwritten digit")
            .WithDescription("The digit, the ten probabilities and the prepared 28×28 image, from 784 grey levels, an image's data URL, "
                + "an uploaded image file (multipart/form-data, field \"file\") or a raw image body. Drawings and photos of a digit on "
                + "paper are cropped, scaled and centred like MNIST first. A drawing with no digit answers {\"empty\": true}.")
            .Produces<PredictResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .AddOpenApiOperationTransformer(async (operation, context, cancel) =>
            {
                // The body is described here rather than with Accepts<T>, which would also make
                // routing refuse other content types before the reader can say what is wrong.
                var content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = await context.GetOrCreateSchemaAsync(typeof(PredictJson), null, cancel) },
                    ["multipart/form-data"] = new()
                    {
                        Schema = new OpenApiSchema
                        {
                            Type = JsonSchemaType.Object,
                            Required = new HashSet<string> { "file" },
                            Properties = new Dictionary<string, IOpenApiSchema> { ["file"] = BinarySchema() },
                        },
                    },
                };
                foreach (var type in PredictRequestReader.ImageTypes) content[type] = new() { Schema = BinarySchema() };
                operation.RequestBody = new OpenApiRequestBody { Required = true, Content = content };
            });

        app.MapGet("/api/model", (ModelHost host) => Results.Json(host.Current.Description, WebJson.Options))
            .WithName("Model")
            .WithSummary("Describe the served model")
            .WithDescription("Its layers, parameter count, test accuracy and the spec it was trained with.")
            .Produces<ModelDescription>();
    }

    private static OpenApiSchema BinarySchema() => new() { Type = JsonSchemaType.String, Format = "binary" };
}
