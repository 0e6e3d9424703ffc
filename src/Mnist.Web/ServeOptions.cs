using System.Globalization;
using Microsoft.Extensions.Configuration;
using Mnist.Core.Backends;

namespace Mnist.Web;

/// <summary>
/// How the server is set up. `mnist serve` fills it from its arguments; the project run on its
/// own (and the tests) read the same settings from configuration: --model, --results, --registry, --data,
/// --host, --port, --predictors, --max-body, --device, --admin-token, --log-level. Without --host and
/// --port the server listens where ASP.NET Core's own settings say (ASPNETCORE_URLS, --urls, a
/// Kestrel section in appsettings.json), else on localhost:5000.
/// </summary>
public sealed record ServeOptions
{
    /// <summary>The model to serve; null: the registry's best run, else a classic network trained for one epoch.</summary>
    public string? ModelPath { get; init; }

    /// <summary>The results folder: runs.db, run reports (served read-only under /results/) and default models.</summary>
    public string ResultsDir { get; init; } = "results";

    /// <summary>The registry: a postgres:// URL or an SQLite file (null: MNIST_REGISTRY, else results/runs.db).</summary>
    public string? Registry { get; init; }

    /// <summary>MNIST for training runs started from the dashboard (null: MNIST_DATA, else the per-user cache).</summary>
    public string? DataDir { get; init; }

    /// <summary>"localhost" listens on the loopback interfaces only; an address or "*" opens it wider. Null: not given.</summary>
    public string? Host { get; init; }

    /// <summary>0 picks a free port. Null: not given.</summary>
    public int? Port { get; init; }

    /// <summary>Where to listen when neither <see cref="Host"/> nor <see cref="Port"/> is given: ASP.NET Core's "urls" setting (ASPNETCORE_URLS, --urls).</summary>
    public string? Urls { get; init; }

    public const string DefaultHost = "localhost";
    public const int DefaultPort = 5000;

    /// <summary>Whether <see cref="Host"/>/<see cref="Port"/> decide where to listen (else <see cref="Urls"/> or ASP.NET Core's own settings do).</summary>
    public bool ListensWhereGiven => Host is not null || Port is not null || Urls is null;

    /// <summary>
    /// Predictions that run at once (each has its own copy of the network); default: one per two
    /// cores. A prediction already spreads its larger products over the cores, and on two cores
    /// two predictions at once made the slowest answers ten times slower (BENCHMARKS.md, overload).
    /// </summary>
    public int Predictors { get; init; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Where predictions and dashboard training run: "cpu" (the default), "cuda", "cuda:N", "ilgpu-cpu".</summary>
    public string Device { get; init; } = DeviceName.Cpu;

    /// <summary>Largest request body accepted (413 beyond it).</summary>
    public long MaxBodyBytes { get; init; } = 4L << 20;

    /// <summary>Prediction requests handled at once (null: twice <see cref="Predictors"/>, so reading one body overlaps computing another).</summary>
    public int? PredictionsInFlight { get; init; }

    /// <summary>Prediction requests that may wait for a turn (null: <see cref="Overload.QueuePerPredictor"/> times <see cref="Predictors"/>); beyond these the answer is 503 with Retry-After.</summary>
    public int? PredictionQueue { get; init; }

    /// <summary>How long a refused prediction request is held before its 503 (see <see cref="Overload"/>); 0 answers at once.</summary>
    public int RefusalPauseMs { get; init; } = Overload.RefusalPauseMs;

    /// <summary>The token writes need from beyond localhost (null: made at start when listening beyond it).</summary>
    public string? AdminToken { get; init; }

    /// <summary>The least severe log messages written, request logs included at Information (null: Warning, or the Logging configuration).</summary>
    public LogLevel? LogLevel { get; init; }

    /// <summary>Progress lines for the person who started the server (default model training, the address).</summary>
    public Action<string> Log { get; init; } = Console.WriteLine;

    /// <summary>Whether only this machine can connect: a loopback name (<see cref="Host"/>, or every URL of <see cref="Urls"/>).</summary>
    public bool IsLoopbackOnly => ListensWhereGiven
        ? IsLoopbackName(Host ?? DefaultHost)
        : Urls!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .All(url => Uri.TryCreate(url.Replace("://*", "://wildcard").Replace("://+", "://wildcard"), UriKind.Absolute, out var uri)
                && IsLoopbackName(uri.Host));

    private static bool IsLoopbackName(string host) => host is "localhost" or "127.0.0.1" or "::1" or "[::1]";

    public static ServeOptions From(IConfiguration configuration)
    {
        var defaults = new ServeOptions();
        string? text(string key) => configuration[key] is { Length: > 0 } v ? v : null;
        int number(string key, int fallback, int min) =>
            text(key) is not { } v ? fallback
            : int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min ? n
            : throw new Core.MnistException($"--{key} must be a whole number of at least {min}, got '{v}'");
        return new ServeOptions
        {
            ModelPath = text("model"),
            ResultsDir = text("results") ?? defaults.ResultsDir,
            Registry = text("registry"),
            DataDir = text("data"),
            Host = text("host"),
            Port = text("port") is null ? null : number("port", DefaultPort, 0),
            Urls = text("urls"),
            Predictors = number("predictors", defaults.Predictors, 1),
            MaxBodyBytes = number("max-body", (int)defaults.MaxBodyBytes, 1024),
            Device = text("device") ?? defaults.Device,
            AdminToken = text("admin-token"),
            PredictionsInFlight = text("predictions-in-flight") is null ? null : number("predictions-in-flight", 1, 1),
            PredictionQueue = text("prediction-queue") is null ? null : number("prediction-queue", 0, 0),
            RefusalPauseMs = number("refusal-pause", defaults.RefusalPauseMs, 0),
            LogLevel = text("log-level") is { } level ? ParseLogLevel(level) : null,
        };
    }

    /// <summary>A log level by name (trace, debug, information, warning, error, critical, none), case ignored.</summary>
    public static LogLevel ParseLogLevel(string name) =>
        Enum.TryParse<LogLevel>(name, ignoreCase: true, out var level) && Enum.IsDefined(level) && !int.TryParse(name, out _)
            ? level
            : throw new Core.MnistException($"--log-level must be one of {string.Join(", ", Enum.GetNames<LogLevel>()).ToLowerInvariant()}, got '{name}'");
}
