using System.Globalization;
using Microsoft.Extensions.Configuration;
using Mnist.Core.Backends;

namespace Mnist.Web;

/// <summary>
/// How the server is set up. `mnist serve` fills it from its arguments; the project run on its
/// own (and the tests) read the same settings from configuration: --model, --results, --registry, --data,
/// --host, --port, --predictors, --max-body, --device.
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

    /// <summary>"localhost" (the default) listens on the loopback interfaces only; an address or "*" opens it wider.</summary>
    public string Host { get; init; } = "localhost";

    /// <summary>0 picks a free port.</summary>
    public int Port { get; init; } = 5000;

    /// <summary>Predictions that run at once (each has its own copy of the network); default: one per core.</summary>
    public int Predictors { get; init; } = Environment.ProcessorCount;

    /// <summary>Where predictions and dashboard training run: "cpu" (the default), "cuda", "cuda:N", "ilgpu-cpu".</summary>
    public string Device { get; init; } = DeviceName.Cpu;

    /// <summary>Largest request body accepted (413 beyond it).</summary>
    public long MaxBodyBytes { get; init; } = 4L << 20;

    /// <summary>Progress lines for the person who started the server (default model training, the address).</summary>
    public Action<string> Log { get; init; } = Console.WriteLine;

    public bool IsLoopbackOnly => Host is "localhost" or "127.0.0.1" or "::1" or "[::1]";

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
            Host = text("host") ?? defaults.Host,
            Port = number("port", defaults.Port, 0),
            Predictors = number("predictors", defaults.Predictors, 1),
            MaxBodyBytes = number("max-body", (int)defaults.MaxBodyBytes, 1024),
            Device = text("device") ?? defaults.Device,
        };
    }
}
