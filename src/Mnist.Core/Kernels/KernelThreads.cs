namespace Mnist.Core.Kernels;

/// <summary>A unit of parallel kernel work: task indices are handed out to threads dynamically.</summary>
internal interface IParallelWork
{
    /// <param name="task">Which task to run, 0 ≤ task &lt; the count given to <see cref="KernelThreads.For"/>.</param>
    /// <param name="thread">Index of the running thread, unique among the threads of one call (0 = caller),
    /// so a task may use per-thread scratch.</param>
    void Run(int task, int thread);
}

/// <summary>
/// The persistent worker threads the kernels share. Workers spin briefly after each job (kernels
/// come in quick succession during training) and then sleep, so an idle process costs nothing.
/// Tasks must write disjoint outputs; which thread runs which task never changes the result.
/// A call made from inside a running job, or while another thread owns the workers, runs inline.
/// </summary>
public static class KernelThreads
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>
    /// Most threads a kernel uses (the caller included); 1 makes every kernel single-threaded.
    /// Defaults to <see cref="Environment.ProcessorCount"/>. Results are bit-identical whatever the value.
    /// </summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value < 1 ? 1 : value;
    }

    // How long an idle worker spins before it sleeps: longer than the gaps between kernels of a step.
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 2000;

    private static readonly object Owner = new();
    [ThreadStatic] private static bool _inside;

    private static Worker[] _workers = [];
    private static int _generation;
    private static int _activeWorkers;
    // (generation << 32) | next task index: a claim is only valid for the generation it names,
    // so a worker that wakes late can never run a task of a job that has moved on.
    private static long _claim;
    private static int _taskCount;
    private static IParallelWork? _work;
    private static int _completed;
    private static Exception? _failure;

    /// <summary>Threads a job of this many tasks would get.</summary>
    internal static int ThreadsFor(int tasks) => _inside ? 1 : Math.Min(MaxThreads, tasks);

    /// <summary>Runs tasks 0..count-1 of <paramref name="work"/> on up to <see cref="MaxThreads"/> threads.</summary>
    internal static void For(int count, IParallelWork work)
    {
        int threads = ThreadsFor(count);
        if (threads <= 1 || !Monitor.TryEnter(Owner))
        {
            RunInline(count, work);
            return;
        }
        try
        {
            EnsureWorkers(threads - 1);
            _work = work;
            _taskCount = count;
            _completed = 0;
            _failure = null;
            _activeWorkers = threads - 1;
            int generation = _generation + 1;
            Interlocked.Exchange(ref _claim, (long)generation << 32);
            Interlocked.Exchange(ref _generation, generation);
            for (int i = 0; i < threads - 1; i++) _workers[i].WakeIfSleeping();

            _inside = true;
            try { RunTasks(generation, 0); }
            finally { _inside = false; }

            var spin = new SpinWait();
            while (Volatile.Read(ref _completed) < count) spin.SpinOnce(-1);
            _work = null;
            if (_failure is { } failure) throw new AggregateException("a parallel kernel task failed", failure);
        }
        finally
        {
            Monitor.Exit(Owner);
        }
    }

    private static void RunInline(int count, IParallelWork work)
    {
        bool wasInside = _inside;
        _inside = true;
        try
        {
            for (int t = 0; t < count; t++) work.Run(t, 0);
        }
        finally { _inside = wasInside; }
    }

    private static void RunTasks(int generation, int thread)
    {
        while (true)
        {
            long claim = Volatile.Read(ref _claim);
            if ((int)(claim >> 32) != generation) return;
            int task = (int)claim;
            if (task >= Volatile.Read(ref _taskCount)) return;
            if (Interlocked.CompareExchange(ref _claim, claim + 1, claim) != claim) continue;
            // The job cannot change before this claimed task completes, so _work is this generation's.
            try { _work!.Run(task, thread); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            Interlocked.Increment(ref _completed);
        }
    }

    private static void EnsureWorkers(int needed)
    {
        if (_workers.Length >= needed) return;
        var grown = new Worker[needed];
        Array.Copy(_workers, grown, _workers.Length);
        for (int i = _workers.Length; i < needed; i++) grown[i] = new Worker(i);
        _workers = grown;
    }

    private sealed class Worker
    {
        private readonly int _index;
        private readonly SemaphoreSlim _wake = new(0);
        private int _sleeping;

        public Worker(int index)
        {
            _index = index;
            var thread = new Thread(Loop) { IsBackground = true, Name = $"kernel-worker-{index + 1}" };
            thread.Start();
        }

        public void WakeIfSleeping()
        {
            if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1) _wake.Release();
        }

        private void Loop()
        {
            _inside = true;
            int seen = Volatile.Read(ref _generation);
            while (true)
            {
                int spins = 0;
                long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _generation) == seen)
                {
                    Thread.SpinWait(10);
                    if ((++spins & 63) != 0) continue;
                    Thread.Yield();
                    if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline) continue;
                    // Announce the sleep, then look once more: the caller bumps the generation before it
                    // checks _sleeping, so either it sees us asleep and releases, or we see the new job.
                    Interlocked.Exchange(ref _sleeping, 1);
                    if (Volatile.Read(ref _generation) == seen) _wake.Wait();
                    Interlocked.Exchange(ref _sleeping, 0);
                    deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                }
                seen = Volatile.Read(ref _generation);
                if (_index < Volatile.Read(ref _activeWorkers)) RunTasks(seen, _index + 1);
            }
        }
    }
}
