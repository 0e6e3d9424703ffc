using Mnist.Core;
using Mnist.Experiments;

namespace Mnist.Web;

/// <summary>
/// The experiments registry the dashboard lists and trains into (Mnist.Experiments' Registry:
/// results/runs.db, or the server named by --registry / MNIST_REGISTRY). Opened on first use and
/// then kept; one that cannot be opened is reported where it is needed (the runs list, a job),
/// never fatal to the drawing page. `mnist serve` checks an explicit registry before it starts.
/// </summary>
public sealed class ResultsRegistry(ServeOptions options)
{
    private readonly Lock _gate = new();
    private Registry? _registry;

    public RegistryLocation Location { get; } = RegistryLocation.Resolve(options.Registry, options.ResultsDir);

    /// <summary>The open registry; a <see cref="MnistException"/> says why it cannot be used.</summary>
    public Registry Open()
    {
        lock (_gate) return _registry ??= Registry.Open(Location, options.ResultsDir);
    }

    /// <summary>The open registry, or a 503 naming the problem.</summary>
    public Registry OpenForRequest()
    {
        try
        {
            return Open();
        }
        catch (MnistException e)
        {
            throw new ApiException(StatusCodes.Status503ServiceUnavailable, ApiErrorCode.RegistryUnavailable, e.Message);
        }
    }
}
