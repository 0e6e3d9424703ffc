using System.Collections.Concurrent;
using Mnist.Core.Inference;
using Mnist.Core.IO;
using Mnist.Core.Layers;
using Mnist.Core.Models;

namespace Mnist.Web;

/// <summary>
/// Predictors for concurrent requests. A <see cref="Predictor"/> owns its network's buffers, so
/// each one here has its own copy of the network, built from the same loaded weights. At most
/// <see cref="Size"/> predictions run at once (more would only fight over the cores); the rest
/// wait their turn asynchronously. Copies are made when first needed.
/// </summary>
public sealed class PredictorPool
{
    private readonly LoadedModel _model;
    private readonly ConcurrentBag<Predictor> _idle = [];
    private readonly SemaphoreSlim _turns;
    private int _created;

    public PredictorPool(LoadedModel model, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _model = model;
        Size = size;
        _turns = new SemaphoreSlim(size, size);
        _idle.Add(new Predictor(model));
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
                predictor = new Predictor(Copy(_model), _model.Normalization, _model.Config.InputShape);
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

    /// <summary>A second network with the loaded one's weights and buffers (batch-norm statistics), on the same backend.</summary>
    public static Sequential Copy(LoadedModel model)
    {
        var network = ModelBuilder.Build(model.Config, seed: 0, model.Network.Backend);
        var source = ModelFile.NamedTensors(model.Network);
        var target = ModelFile.NamedTensors(network);
        for (int i = 0; i < target.Count; i++) target[i].Value.CopyFrom(source[i].Value);
        return network;
    }
}
