using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;

namespace Mnist.Web;

/// <summary>
/// Predictions are limited to a few at a time with a short queue (ASP.NET Core's concurrency
/// limiter): beyond that the server answers at once 503 with Retry-After, instead of letting a
/// queue grow until every answer is late. With 64 clients in flight on 2 cores, admitting them all
/// puts the mean wait at about 30 ms (Little's law at ~2,100 predictions/s); a queue of 4 per
/// predictor keeps the p99 of the answered requests near 20 ms for clients that honour
/// Retry-After, at a few percent refused (BENCHMARKS.md, overload). Clients that ask again at once
/// get many more refusals: the queue cannot help them without making everyone wait.
/// </summary>
public static class Overload
{
    public const string PredictPolicy = "predict";

    /// <summary>Requests that may wait per predictor when the queue is not set.</summary>
    public const int QueuePerPredictor = 4;

    /// <summary>Seconds a refused client is asked to wait.</summary>
    public const int RetryAfterSeconds = 1;

    public static void Add(IServiceCollection services, Func<IServiceProvider, ServeOptions> options)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            limiter.OnRejected = async (context, _) =>
            {
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
