using System.Collections.Concurrent;
using Mnist.Core.Inference;

namespace Mnist.Web;

/// <summary>
/// Predictors for concurrent requests. A <see cref="Predictor"/> owns its networks' buffers, so
/// each one here has its own copy of the networks (every member of an ensemble), built from the same loaded weights. At most
/// <see cref="Size"/> predictions run at once (more would only fight over the cores); the rest
/// wait their turn asynchronously. Copies are made when first needed.
/// </summary>
public sealed class PredictorPool
{
    private readonly Classifier _classifier;
    private readonly ConcurrentBag<Predictor> _idle = [];
    private readonly SemaphoreSlim _turns;
    private int _created;

    public PredictorPool(Classifier classifier, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _classifier = classifier;
        Size = size;
        _turns = new SemaphoreSlim(size, size);
        _idle.Add(new Predictor(classifier));
        _created = 1;
    }

    public int Size { get; }

    /// <summary>Networks built so far (at most <see cref="Size"/>).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Runs <paramref name="work"/> with a predictor no other thread is using.</summary>
    public async ValueTask<T> Run<T>(Func<Predictor, T> work, CancellationToken cancel = default)
    {
        await _turns.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            if (!_idle.TryTake(out var predictor))
            {
                predictor = new Predictor(_classifier.Copy());
                Interlocked.Increment(ref _created);
            }
            try { return work(predictor); }
            finally { _idle.Add(predictor); }
        }
        finally
        {
            _turns.Release();
        }
    }
}
