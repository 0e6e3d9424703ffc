using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Mnist.Experiments;

namespace Mnist.Web;

/// <summary>A registry run with its state ("complete", "running", "interrupted": resumable) and the links the dashboard shows.</summary>
public sealed record RunListing(RunRow Run, string State, bool Resumable, string? ReportUrl, string? SweepReportUrl, bool HasModel);

/// <summary>What the dashboard asks to serve: a finished job's model or a registry run's.</summary>
public sealed record UseModelRequest(string? Job, string? Run);

/// <summary>
/// The dashboard's API: runs from the registry (resuming or discarding an interrupted one),
/// training jobs with live progress (server-sent events), putting a trained model into service,
/// and the run reports under /results/.
/// </summary>
public static class DashboardEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs", (ResultsRegistry registry, ServeOptions options) =>
        {
            try
            {
                var open = registry.Open();
                var runs = open.Runs().OrderByDescending(r => r.StartedAt, StringComparer.Ordinal).ThenBy(r => r.Id, StringComparer.Ordinal)
                    .Select(run => Listing(run, open.StateOf(run), options.ResultsDir)).ToList();
                return Results.Json(new { registry = registry.Location.Display, runs }, WebJson.Options);
            }
            catch (Core.MnistException e)
            {
                return Results.Json(new { registry = registry.Location.Display, problem = e.Message, runs = Array.Empty<RunListing>() }, WebJson.Options);
            }
        });

        app.MapPost("/api/runs/{id}/resume", (string id, TrainingJobs jobs, ResultsRegistry registry) =>
        {
            var row = registry.OpenForRequest().TryGet(id)?.Value
                ?? throw new ApiException(StatusCodes.Status404NotFound, ApiErrorCode.NotFound, $"no run {id} in the registry");
            return Results.Json(jobs.Resume(row).Snapshot(), WebJson.Options, statusCode: StatusCodes.Status202Accepted);
        });

        app.MapPost("/api/runs/{id}/discard", (string id, ResultsRegistry registry, ServeOptions options) =>
        {
            var outcome = Runner.discard(options.ResultsDir, registry.OpenForRequest(), id);
            return outcome switch
            {
                { IsDiscarded: true } => Results.Json(new { discarded = id }, WebJson.Options),
                { IsNotFound: true } => throw new ApiException(StatusCodes.Status404NotFound, ApiErrorCode.NotFound, $"no run {id} in the registry"),
                { IsAlreadyComplete: true } => throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.NotResumable, $"run {id} is complete: it is kept"),
                _ => throw new ApiException(StatusCodes.Status409Conflict, ApiErrorCode.Busy, $"run {id} is being trained; cancel it first"),
            };
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

        app.MapPost("/api/model/use", async (HttpContext context, ModelHost host, TrainingJobs jobs, ResultsRegistry registry, ServeOptions options) =>
        {
            var request = await ReadJson<UseModelRequest>(context, options);
            string path = request switch
            {
                { Job: { } id } => Job(jobs, id).ModelPath
                    ?? throw ApiException.BadRequest(ApiErrorCode.BadRequest, $"job {id} has no model (it did not finish)"),
                { Run: { } id } => registry.OpenForRequest().TryGet(id)?.Value is { IsComplete: true } run
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

    private static RunListing Listing(RunRow run, RunState state, string resultsDir)
    {
        string? Url(string relative) => ResultsFiles.Find(resultsDir, relative) is null ? null : "/results/" + relative;
        var model = run.IsComplete ? ResultsFiles.Resolve(resultsDir, run.Folder + "/" + DefaultModel.ModelFileName) : null;
        return new RunListing(run, state.Name, state.IsInterrupted, Url(run.Folder + "/" + Layout.ReportFile), Url(run.Sweep + "/index.html"),
            model is not null && File.Exists(model));
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
