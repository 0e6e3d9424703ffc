using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;

namespace Mnist.Web;

/// <summary>
/// Predictions are limited to a few at a time with a bounded queue (ASP.NET Core's concurrency
/// limiter): beyond that the server answers at once 503 with Retry-After, instead of letting a
/// queue grow until every answer is late. The queue holds what the predictors clear in a few
/// milliseconds (a classic prediction takes about 0.2 ms), so a burst of clients waits briefly
/// instead of being refused and retrying at once: refusals that are retried straight away cost
/// the cores more than the predictions they displace.
/// </summary>
public static class Overload
{
    public const string PredictPolicy = "predict";

    /// <summary>Requests that may wait per predictor when the queue is not set.</summary>
    public const int QueuePerPredictor = 32;

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
