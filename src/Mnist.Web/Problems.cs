using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Mnist.Web;

/// <summary>
/// Every error answer is RFC 7807 Problem Details (application/problem+json) carrying our named
/// code as the "code" extension member: refusals thrown as <see cref="ApiException"/>, Kestrel's
/// own (a body over its limit, a malformed request), empty error answers (a route that does not
/// exist, a wrong method, a refused Host header) and server bugs (500, logged, no details).
/// </summary>
public static class Problems
{
    public const string CodeMember = "code";

    /// <summary>Registers the problem details service and the exception handler; <see cref="Use"/> puts them in the pipeline.</summary>
    public static void Add(IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            int status = problem.Status ?? context.HttpContext.Response.StatusCode;
            problem.Extensions.TryAdd(CodeMember, ApiErrorCode.ForStatus(status));
            // the trace id the service adds is noise for a local app
            problem.Extensions.Remove("traceId");
        });
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Outermost, before even the host filter ASP.NET Core adds on its own, so its refusals get a body too.
        services.Insert(0, ServiceDescriptor.Transient<IStartupFilter, ProblemsFirst>());
        services.Configure<Microsoft.AspNetCore.HostFiltering.HostFilteringOptions>(o => o.IncludeFailureMessage = false);
    }

    /// <summary>An OpenAPI schema transformer: the problem schema gains our "code" member.</summary>
    public static Task DescribeCode(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancel)
    {
        if (context.JsonTypeInfo.Type == typeof(ProblemDetails))
        {
            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties[CodeMember] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "Why the request was refused, for programs: bad_json, wrong_length, not_image, too_large, overloaded, ...",
            };
        }
        return Task.CompletedTask;
    }

    /// <summary>Writes a problem answer now (for filters and callbacks that refuse without throwing).</summary>
    public static async Task WriteAsync(HttpContext context, int status, string code, string detail)
    {
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        var service = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        var problem = new ProblemDetails { Status = status, Detail = detail };
        problem.Extensions[CodeMember] = code;
        await service.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }

    private sealed class ProblemsFirst : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            next(app);
        };
    }
}

/// <summary>Our refusals and Kestrel's as problems with their status; anything else is left to the default 500 problem (and logged).</summary>
internal sealed class ApiExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancel)
    {
        var (status, code) = exception switch
        {
            ApiException e => (e.Status, e.Code),
            BadHttpRequestException e => (e.StatusCode, ApiErrorCode.ForStatus(e.StatusCode)),
            _ => (0, ""),
        };
        if (status == 0) return false;
        if (status == StatusCodes.Status413PayloadTooLarge) context.Response.Headers.Connection = "close";
        await Problems.WriteAsync(context, status, code, exception.Message);
        return true;
    }
}
