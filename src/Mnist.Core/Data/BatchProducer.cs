using System.Runtime.ExceptionServices;

namespace Mnist.Core.Data;

/// <summary>One batch from <see cref="BatchProducer"/>; its buffers are reused, so it is valid until the next <see cref="BatchProducer.Next"/>.</summary>
public sealed class Batch
{
    private readonly int _imageSize;

    internal Batch(int capacity, int height, int width)
    {
        _imageSize = height * width;
        Pixels = new float[capacity * _imageSize];
        Labels = new int[capacity];
    }

    /// <summary>The images, count × 1 × H × W in host memory, normalised (and augmented); the first <see cref="Count"/> are this batch's.</summary>
    public float[] Pixels { get; }
    /// <summary>This batch's images (<see cref="Count"/> of them).</summary>
    public ReadOnlySpan<float> Images => Pixels.AsSpan(0, Count * _imageSize);
    /// <summary>The labels; the first <see cref="Count"/> are this batch's.</summary>
    public int[] Labels { get; }
    public int Count { get; internal set; }
    public int Epoch { get; internal set; }
    /// <summary>The batch's index in its epoch, from 0.</summary>
    public int Index { get; internal set; }
    public ReadOnlySpan<int> BatchLabels => Labels.AsSpan(0, Count);
}

/// <summary>
/// Hands out an epoch's batches in order while preparing the next one on a background thread
/// (double buffering: two batches, one being trained on, one being filled). Each batch is what
/// <see cref="AugmentedBatchLoader.Fill"/> gives for its indices, epoch and batch index, so the
/// batches are the same with or without the background thread. Allocates nothing per batch.
/// One consumer thread; <see cref="Dispose"/> stops the worker.
/// </summary>
public sealed class BatchProducer : IDisposable
{
    private readonly AugmentedBatchLoader _loader;
    private readonly int _batchSize;
    private readonly Batch[] _buffers;
    private readonly Thread? _worker;
    private readonly SemaphoreSlim _work = new(0), _done = new(0);
    private ExceptionDispatchInfo? _error;
    private bool _inFlight, _stopping, _disposed;
    private Batch? _job;
    private int _jobIndex, _epoch, _samples, _batches, _next;
    private int[]? _order;

    /// <param name="background">False fills each batch when it is asked for, on the caller's thread.</param>
    public BatchProducer(AugmentedBatchLoader loader, int batchSize, bool background = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (_loader, _batchSize) = (loader, batchSize);
        var split = loader.Split;
        _buffers = [new Batch(batchSize, split.Height, split.Width), new Batch(batchSize, split.Height, split.Width)];
        if (background)
        {
            _worker = new Thread(Work) { IsBackground = true, Name = "batch producer" };
            _worker.Start();
        }
    }

    /// <summary>
    /// Starts an epoch: batches of <c>order[0 .. samples)</c>, in order, the last one shorter when
    /// samples is not a multiple of the batch size. <paramref name="order"/> is read while you
    /// train: leave it unchanged until the epoch's last batch has been handed out or the next
    /// BeginEpoch has returned (it waits for, and drops, a batch prepared for an epoch cut short).
    /// </summary>
    public void BeginEpoch(int epoch, int[] order, int samples)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (samples < 0 || samples > order.Length) throw new ArgumentOutOfRangeException(nameof(samples));
        Settle();
        _error = null;
        (_epoch, _order, _samples) = (epoch, order, samples);
        _batches = (samples + _batchSize - 1) / _batchSize;
        _next = 0;
        if (_worker is not null && _batches > 0) Launch(0);
    }

    /// <summary>
    /// The epoch's next batch, or null after its last. Waits for it if it is still being prepared,
    /// then starts preparing the one after. Rethrows what failed while preparing it.
    /// </summary>
    public Batch? Next()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_order is null) throw new InvalidOperationException("call BeginEpoch first");
        if (_next >= _batches) return null;
        var batch = _buffers[_next % 2];
        if (_worker is null) Fill(batch, _next);
        else
        {
            Settle();
            _error?.Throw();
        }
        _next++;
        // the other buffer held the batch handed out last time, which the caller has finished with
        if (_worker is not null && _next < _batches) Launch(_next);
        return batch;
    }

    private void Launch(int index)
    {
        (_job, _jobIndex) = (_buffers[index % 2], index);
        _inFlight = true;
        _work.Release();
    }

    /// <summary>Waits for the batch in preparation, if any.</summary>
    private void Settle()
    {
        if (!_inFlight) return;
        _done.Wait();
        _inFlight = false;
    }

    private void Work()
    {
        while (true)
        {
            _work.Wait();
            if (_stopping) return;
            try
            {
                Fill(_job!, _jobIndex);
            }
            catch (Exception e)
            {
                _error = ExceptionDispatchInfo.Capture(e);
            }
            _done.Release();
        }
    }

    private void Fill(Batch batch, int index)
    {
        int start = index * _batchSize, count = Math.Min(_batchSize, _samples - start);
        (batch.Count, batch.Epoch, batch.Index) = (count, _epoch, index);
        _loader.Fill(_order.AsSpan(start, count), _epoch, index, batch.Pixels.AsSpan(0, count * _loader.Split.ImageSize),
            batch.Labels.AsSpan(0, count));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_worker is not null)
        {
            Settle();
            _stopping = true;
            _work.Release();
            _worker.Join();
        }
        _work.Dispose();
        _done.Dispose();
    }
}
