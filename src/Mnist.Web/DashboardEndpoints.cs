using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Mnist.Web;

/// <summary>A registry run with the links the dashboard shows.</summary>
public sealed record RunListing(RunRecord Run, string? ReportUrl, string? SweepReportUrl, bool HasModel);

/// <summary>What the dashboard asks to serve: a finished job's model or a registry run's.</summary>
public sealed record UseModelRequest(string? Job, string? Run);

/// <summary>
/// The dashboard's API: runs from the registry, training jobs with live progress (server-sent
/// events), putting a trained model into service, and the run reports under /results/.
/// </summary>
public static class DashboardEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs", (IRunRegistry registry, ServeOptions options) =>
        {
            var runs = registry.Runs().Select(run => Listing(run, options.ResultsDir)).ToList();
            return Results.Json(new
            {
                registry = registry.Location,
                exists = File.Exists(registry.Location),
                problem = (registry as SqliteRunRegistry)?.Problem,
                runs,
            }, WebJson.Options);
        });

        app.MapGet("/api/jobs", (TrainingJobs jobs) => Results.Json(jobs.All(), WebJson.Options));

        app.MapPost("/api/jobs", async (HttpContext context, TrainingJobs jobs, ServeOptions options) =>
        {
            var request = await ReadJson<TrainRequest>(context, options);
            var job = jobs.Start(request);
            return Results.Json(job.Snapshot(), WebJson.Options, statusCode: StatusCodes.Status202Accepted);
        });

        app.MapGet("/api/jobs/{id}", (string id, TrainingJobs jobs) => Results.Json(Job(jobs, id).Snapshot(), WebJson.Options));

        app.MapGet("/api/jobs/{id}/events", (string id, TrainingJobs jobs, HttpContext context) =>
            TypedResults.ServerSentEvents(Job(jobs, id).Follow(context.RequestAborted)));

        app.MapPost("/api/jobs/{id}/cancel", (string id, TrainingJobs jobs) =>
        {
            var job = Job(jobs, id);
            job.Cancellation.Cancel();
            return Results.Json(job.Snapshot(), WebJson.Options, statusCode: StatusCodes.Status202Accepted);
        });

        app.MapPost("/api/model/use", async (HttpContext context, ModelHost host, TrainingJobs jobs, IRunRegistry registry, ServeOptions options) =>
        {
            var request = await ReadJson<UseModelRequest>(context, options);
            string path = request switch
            {
                { Job: { } id } => Job(jobs, id).ModelPath
                    ?? throw ApiException.BadRequest(ApiErrorCode.BadRequest, $"job {id} has no model (it did not finish)"),
                { Run: { } id } => registry.Runs().FirstOrDefault(r => r.Id == id) is { } run
                        && ResultsFiles.Resolve(options.ResultsDir, run.Folder + "/" + DefaultModel.ModelFileName) is { } file && File.Exists(file)
                    ? file
                    : throw new ApiException(StatusCodes.Status404NotFound, ApiErrorCode.NotFound, $"no model file for run {id}"),
                _ => throw ApiException.BadRequest(ApiErrorCode.MissingInput, "give {\"job\": id} or {\"run\": id}"),
            };
            try
            {
                return Results.Json(host.Swap(path), WebJson.Options);
            }
            catch (Core.MnistException e)
            {
                throw ApiException.BadRequest(ApiErrorCode.BadRequest, e.Message);
            }
        });

        app.MapGet("/results/{**path}", (string? path, ServeOptions options) =>
            ResultsFiles.Find(options.ResultsDir, path ?? "") is { } file
                ? Results.File(file.Path, file.ContentType, enableRangeProcessing: false)
                : Results.NotFound());
    }

    private static RunListing Listing(RunRecord run, string resultsDir)
    {
        string? Url(string relative) => ResultsFiles.Find(resultsDir, relative) is null ? null : "/results/" + relative;
        var model = ResultsFiles.Resolve(resultsDir, run.Folder + "/" + DefaultModel.ModelFileName);
        return new RunListing(run, Url(run.Folder + "/report.html"), Url(run.Sweep + "/index.html"), model is not null && File.Exists(model));
    }

    private static TrainingJob Job(TrainingJobs jobs, string id) =>
        jobs.Find(id) ?? throw new ApiException(StatusCodes.Status404NotFound, ApiErrorCode.NotFound, $"no training job {id}");

    /// <summary>A small JSON body: application/json only (so a plain HTML form on another site cannot post one), unknown fields refused.</summary>
    internal static async Task<T> ReadJson<T>(HttpContext context, ServeOptions options)
    {
        var type = context.Request.ContentType;
        if (type is null || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType, ApiErrorCode.UnsupportedMediaType,
                $"send application/json (got {type ?? "no content type"})");
        var body = await RequestBody.ReadAsync(context.Request, Math.Min(options.MaxBodyBytes, 64 * 1024), context.RequestAborted);
        try
        {
            return JsonSerializer.Deserialize<T>(body, Strict) ?? throw ApiException.BadRequest(ApiErrorCode.BadJson, "expected a JSON object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest(ApiErrorCode.BadJson, e.Message);
        }
    }

    private static readonly JsonSerializerOptions Strict = new(WebJson.Options)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };
}
