using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Mnist.Web;

/// <summary>
/// ASP.NET Core's health checks: /healthz/live answers while the process serves requests at all;
/// /healthz/ready (and /healthz) also needs the model loaded and warmed up. Healthy answers are
/// small JSON; an unhealthy one is a 503 problem like every other error.
/// </summary>
public static class Health
{
    private const string Ready = "ready";

    public static void Add(IServiceCollection services) =>
        services.AddHealthChecks().AddCheck<ModelReadyCheck>("model", tags: [Ready]);

    public static void Map(IEndpointRouteBuilder app)
    {
        long started = Stopwatch.GetTimestamp();
        HealthCheckOptions Options(Func<HealthCheckRegistration, bool> predicate) => new()
        {
            Predicate = predicate,
            ResponseWriter = (context, report) => Write(context, report, Stopwatch.GetElapsedTime(started)),
        };
        app.MapHealthChecks("/healthz/live", Options(_ => false)).ExcludeFromDescription();
        app.MapHealthChecks("/healthz/ready", Options(r => r.Tags.Contains(Ready))).ExcludeFromDescription();
        app.MapHealthChecks("/healthz", Options(r => r.Tags.Contains(Ready))).ExcludeFromDescription();
    }

    private static Task Write(HttpContext context, HealthReport report, TimeSpan uptime)
    {
        if (report.Status != HealthStatus.Healthy)
        {
            string reasons = string.Join("; ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy)
                .Select(e => $"{e.Key}: {e.Value.Description ?? e.Value.Status.ToString()}"));
            return Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ApiErrorCode.Unhealthy, reasons);
        }
        var model = context.RequestServices.GetRequiredService<ModelHost>().Current.Description;
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            model = model.Name,
            checks = report.Entries.ToDictionary(e => e.Key, e => e.Value.Status.ToString()),
            uptimeSeconds = Math.Round(uptime.TotalSeconds, 1),
            workingSetBytes = Environment.WorkingSet,
        }, WebJson.Options);
    }
}

/// <summary>Ready once the model is loaded and its first prediction (the warm-up) has run.</summary>
internal sealed class ModelReadyCheck(ModelHost host) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancel) =>
        Task.FromResult(host.IsWarm
            ? HealthCheckResult.Healthy($"{host.Current.Description.Name} loaded")
            : HealthCheckResult.Unhealthy("the model is still warming up"));
}
