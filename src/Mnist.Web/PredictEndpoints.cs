using System.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Mnist.Web;

/// <summary>POST /api/predict, GET /api/model, GET /healthz.</summary>
public static class PredictEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        long started = Stopwatch.GetTimestamp();
        app.MapPost("/api/predict", async (HttpContext context, ModelHost host, ServeOptions options) =>
        {
            var model = host.Current;
            var request = await PredictRequestReader.ReadAsync(context.Request, model.PixelCount, options.MaxBodyBytes, context.RequestAborted);
            var answer = await DigitAnalyzer.AnalyzeAsync(model, request, context.RequestAborted);
            return Results.Json(answer, WebJson.Options);
        });

        app.MapGet("/api/model", (ModelHost host) => Results.Json(host.Current.Description, WebJson.Options));

        app.MapGet("/healthz", (ModelHost host) => Results.Json(new
        {
            status = "ok",
            model = host.Current.Description.Name,
            uptimeSeconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
            workingSetBytes = Environment.WorkingSet,
        }, WebJson.Options));
    }
}
