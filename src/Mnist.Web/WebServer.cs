using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.HostFiltering;
using Mnist.Core.Backends;
using Mnist.Core.Imaging;
using Microsoft.AspNetCore.HttpLogging;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Mnist.Imaging;

namespace Mnist.Web;

/// <summary>
/// The whole server: the draw-a-digit page, the prediction API and the runs dashboard, in one
/// ASP.NET Core app. Settings come from <see cref="ServeOptions"/> when given (`mnist serve`),
/// else from configuration (command-line arguments, environment; the tests' settings), read once
/// the app is built. The model is loaded right then, before anything listens: a missing or
/// corrupt file stops start-up with the loader's message.
/// </summary>
public static class WebServer
{
    public static WebApplication Create(string[] args, ServeOptions? options = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        ConfigureLogging(builder, options?.LogLevel
            ?? (builder.Configuration["log-level"] is { Length: > 0 } level ? ServeOptions.ParseLogLevel(level) : null));

        var services = builder.Services;
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            return options is null ? ServeOptions.From(configuration) : options with { Urls = options.Urls ?? configuration["urls"] };
        });
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<ServeOptions>();
            return new ModelHost(ServedModel.Load(DefaultModel.Resolve(o), o.Predictors, Devices.Get(o.Device)));
        });
        services.AddSingleton<ResultsRegistry>();
        services.AddSingleton<TrainingJobs>();
        services.AddSingleton<StaticAssets>();
        services.AddSingleton<AdminAccess>();
        services.AddHostedService<ModelWarmup>();
        Problems.Add(services);
        Health.Add(services);
        Overload.Add(services, sp => sp.GetRequiredService<ServeOptions>());
        services.AddOpenApi(o => o.AddSchemaTransformer(Problems.DescribeCode));
        services.AddHttpLogging(o =>
        {
            o.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath | HttpLoggingFields.RequestQuery
                | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            o.CombineLogs = true;
        });
        services.AddOptions<HostFilteringOptions>().Configure<ServeOptions>((filter, o) =>
        {
            // Bound to loopback, answer only to loopback names: a page elsewhere cannot reach the
            // server through a DNS name that points at 127.0.0.1 (DNS rebinding).
            if (o.IsLoopbackOnly) filter.AllowedHosts = ["localhost", "127.0.0.1", "[::1]"];
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var o = kestrel.ApplicationServices.GetRequiredService<ServeOptions>();
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = o.MaxBodyBytes;
            if (o.ListensWhereGiven) Listen(kestrel, o.Host ?? ServeOptions.DefaultHost, o.Port ?? ServeOptions.DefaultPort);
        });

        var app = builder.Build();
        // Load the model now, so a missing or corrupt file is refused before anything listens.
        // (Under WebApplicationFactory, Build never returns here; ModelWarmup loads it at start.)
        app.Services.GetRequiredService<ModelHost>();
        app.UseHttpLogging();
        app.UseRateLimiter();
        app.Services.GetRequiredService<StaticAssets>().Map(app);
        Health.Map(app);
        app.MapOpenApi();
        PredictEndpoints.Map(app);
        AdminAccess.MapWithWritesGuarded(app, DashboardEndpoints.Map);
        app.Lifetime.ApplicationStarted.Register(() => Announce(app));
        return app;
    }

    /// <summary>
    /// One line per message on the console, Warning and up unless <paramref name="level"/> (or the
    /// "Logging" configuration) says otherwise; at Information every request is logged.
    /// </summary>
    private static void ConfigureLogging(WebApplicationBuilder builder, LogLevel? level)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (level is { } chosen)
        {
            // a rule for every category, added after the configuration's, so it wins over them
            builder.Logging.SetMinimumLevel(chosen);
            builder.Logging.AddFilter((_, messageLevel) => messageLevel >= chosen);
        }
        // Start-up failures (a bad model, a port in use) are reported once, as one clear line, by
        // whoever started the server; the host's own stack-trace dump of them would only bury it.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port)
    {
        if (port is < 0 or > 65535) throw new Core.MnistException($"--port must be 0..65535, got {port}");
        switch (host)
        {
            case "localhost" when port != 0: kestrel.ListenLocalhost(port); break;
            case "localhost": kestrel.Listen(IPAddress.Loopback, 0); break;
            case "*" or "0.0.0.0" or "::": kestrel.ListenAnyIP(port); break;
            default:
                if (!IPAddress.TryParse(host.Trim('[', ']'), out var address))
                    throw new Core.MnistException($"--host must be localhost, * or an IP address, got '{host}'");
                kestrel.Listen(address, port);
                break;
        }
    }

    /// <summary>Runs until Ctrl+C (what `mnist serve` calls); start-up problems are <see cref="Core.MnistException"/>s.</summary>
    public static void Run(ServeOptions options) => Serve(Create([], options));

    /// <summary>Runs the app until it is stopped, turning a failure to listen into one clear message.</summary>
    public static void Serve(WebApplication app)
    {
        try
        {
            app.Run();
        }
        catch (IOException e) when (e.Message.StartsWith("Failed to bind", StringComparison.Ordinal))
        {
            throw new Core.MnistException($"cannot listen: {e.Message} (pick another --port, or stop the program using it)", e);
        }
    }

    /// <summary>The addresses Kestrel listens on (empty under the test server).</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    private static void Announce(WebApplication app)
    {
        var addresses = Addresses(app);
        if (addresses.Count == 0) return;
        var options = app.Services.GetRequiredService<ServeOptions>();
        var model = app.Services.GetRequiredService<ModelHost>().Current.Description;
        var url = addresses[0].Replace("[::1]", "localhost").Replace("127.0.0.1", "localhost").TrimEnd('/');
        options.Log($"serving {model.Name} ({model.Path}) at {url}/ — draw a digit there; runs dashboard at {url}/dashboard; Ctrl+C stops");
        var access = app.Services.GetRequiredService<AdminAccess>();
        if (access.Generated)
            options.Log($"listening beyond localhost: starting or cancelling training and switching the model need the admin token {access.Token} "
                + "(give it to the dashboard, or send \"Authorization: Bearer <token>\"; --admin-token sets your own)");
    }
}

/// <summary>Loads the model as the host starts (so a bad file stops start-up) and runs one prediction to warm it up.</summary>
internal sealed class ModelWarmup(ModelHost host) : IHostedService
{
    public async Task StartAsync(CancellationToken cancel)
    {
        var model = host.Current;
        var blank = new float[model.PixelCount];
        for (int i = 0; i < blank.Length; i++) blank[i] = i % 28 is >= 12 and <= 15 && i / 28 is >= 4 and <= 23 ? 1f : 0f;
        var request = new DigitRequest(blank, null, FeatureMaps: true);
        await DigitAnalyzer.AnalyzeAsync(model, request, cancel);
        _ = ImageDecoder.PrepareDigit(GreyPng.EncodeUnit(blank, 28, 28), DigitAnalyzer.Limits);
        host.MarkWarm();
    }

    public Task StopAsync(CancellationToken cancel) => Task.CompletedTask;
}
