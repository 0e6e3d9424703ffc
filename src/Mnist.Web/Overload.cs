using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;

namespace Mnist.Web;

/// <summary>
/// Predictions are limited to a few at a time with a short queue (ASP.NET Core's concurrency
/// limiter): beyond that the server answers 503 with Retry-After, instead of letting a queue grow
/// until every answer is late. A refusal is held for <see cref="RefusalPauseMs"/> before it is
/// answered: clients that ignore Retry-After and ask again at once (most load generators) would
/// otherwise turn the cores into a loop of refusals that starves the requests being answered (64
/// such clients on 2 cores: p99 of the answered 50 ms at ~200 answers/s without the pause, 11–12
/// ms at ~1,700/s with it; BENCHMARKS.md, overload). A held refusal costs a connection, not a core.
/// </summary>
public static class Overload
{
    public const string PredictPolicy = "predict";

    /// <summary>Requests that may wait per predictor when the queue is not set.</summary>
    public const int QueuePerPredictor = 1;

    /// <summary>Seconds a refused client is asked to wait.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>Milliseconds a refusal is held before it is answered (default of --refusal-pause).</summary>
    public const int RefusalPauseMs = 100;

    public static void Add(IServiceCollection services, Func<IServiceProvider, ServeOptions> options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            limiter.OnRejected = async (context, cancel) =>
            {
                int pause = options(context.HttpContext.RequestServices).RefusalPauseMs;
                if (pause > 0)
                {
                    try { await Task.Delay(pause, cancel); }
                    catch (OperationCanceledException) { return; } // the client left
                }
                context.HttpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                await Problems.WriteAsync(context.HttpContext, StatusCodes.Status503ServiceUnavailable, ApiErrorCode.Overloaded,
                    $"the server is busy with other predictions; try again in {RetryAfterSeconds} s");
            };
            limiter.AddPolicy(PredictPolicy, http =>
            {
                var o = options(http.RequestServices);
                // one partition: the limit is the server's, whoever asks
                return RateLimitPartition.GetConcurrencyLimiter(0, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = o.PredictionsInFlight ?? 2 * o.Predictors,
                    QueueLimit = o.PredictionQueue ?? QueuePerPredictor * o.Predictors,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                });
            });
        });
    }
}
