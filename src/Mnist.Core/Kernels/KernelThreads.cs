namespace Mnist.Core.Kernels;

/// <summary>A unit of parallel kernel work: each thread starts on its own range of task indices.</summary>
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
/// <remarks>
/// Thread i of a job of n tasks starts on tasks [i·n/t, (i+1)·n/t) and, when they run out, takes
/// what is left of the others' ranges. So in the common case each thread works on the same part
/// of the batch in every kernel (the same images' padding, tiles, outputs, pooling) and finds its
/// data in its own core's cache, and neighbouring tasks' shared cache lines (a row of transformed
/// kernels, say) are written by one core. Handing tasks out one by one from a shared counter
/// measured the Winograd forward only 10% faster on two threads than on one (Zen 5): each core
/// kept pulling lines the other had just written.
/// </remarks>
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
    private static Ranges _ranges = new(1);
    // Threads of the current job, the caller included: workers 1.._threads-1 take part.
    private static int _threads;
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
            _completed = 0;
            _failure = null;
            _threads = threads;
            int generation = _generation + 1;
            _ranges.Start(generation, count, threads);
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

    /// <summary>Runs the thread's own range, then what the other threads have not yet claimed of theirs.</summary>
    private static void RunTasks(int generation, int thread)
    {
        var ranges = Volatile.Read(ref _ranges);
        // A late worker may pair older ranges with a newer, larger job: those ranges are used up anyway.
        int threads = Math.Min(Volatile.Read(ref _threads), ranges.Threads);
        for (int i = 0; i < threads; i++)
            if (!RunRange(ranges, generation, (thread + i) % threads, thread)) return;
    }

    /// <summary>Claims and runs tasks of one thread's range until it is empty; false once the job has moved on.</summary>
    private static bool RunRange(Ranges ranges, int generation, int range, int thread)
    {
        while (ranges.TryClaim(generation, range, out int task))
        {
            // The job cannot change before this claimed task completes, so _work is this generation's.
            try { _work!.Run(task, thread); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
            Interlocked.Increment(ref _completed);
        }
        return ranges.Current(generation, range);
    }

    private static void EnsureWorkers(int needed)
    {
        // Replaced only between jobs: a late worker still holding the old ranges finds them all used up.
        if (_ranges.Threads < needed + 1) _ranges = new Ranges(needed + 1);
        if (_workers.Length >= needed) return;
        var grown = new Worker[needed];
        Array.Copy(_workers, grown, _workers.Length);
        for (int i = _workers.Length; i < needed; i++) grown[i] = new Worker(i);
        _workers = grown;
    }

    /// <summary>
    /// Each thread's range of the current job: a claim word (generation &lt;&lt; 32) | next task, and the
    /// range's end. A claim is only valid for the generation it names, so a worker that wakes late can
    /// never run a task of a job that has moved on. The ends come in two sets, by the generation's
    /// parity, so the next job cannot change the end such a worker compares its stale claim with: by
    /// the time a job writes a set of ends again, every claim names a newer generation. Each counter
    /// sits on its own cache lines.
    /// </summary>
    private sealed class Ranges(int threads)
    {
        private const int Stride = 16;
        private readonly long[] _claims = new long[threads * Stride];
        private readonly int[] _ends = new int[2 * threads * Stride];

        public int Threads => threads;

        /// <summary>Thread i of <paramref name="threadCount"/> gets tasks [i·count/t, (i+1)·count/t).</summary>
        public void Start(int generation, int count, int threadCount)
        {
            for (int i = 0; i < threadCount; i++)
            {
                // The end first: a thread that reads this generation's claim then reads this end.
                _ends[End(generation, i)] = (int)((long)count * (i + 1) / threadCount);
                Interlocked.Exchange(ref _claims[i * Stride], ((long)generation << 32) | (uint)((long)count * i / threadCount));
            }
        }

        public bool TryClaim(int generation, int range, out int task)
        {
            ref long slot = ref _claims[range * Stride];
            while (true)
            {
                long claim = Volatile.Read(ref slot);
                task = (int)claim;
                if ((int)(claim >> 32) != generation || task >= Volatile.Read(ref _ends[End(generation, range)])) return false;
                if (Interlocked.CompareExchange(ref slot, claim + 1, claim) == claim) return true;
            }
        }

        /// <summary>Whether the range still belongs to this generation's job.</summary>
        public bool Current(int generation, int range) => (int)(Volatile.Read(ref _claims[range * Stride]) >> 32) == generation;

        private int End(int generation, int range) => ((generation & 1) * threads + range) * Stride;
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
                if (_index + 1 < Volatile.Read(ref _threads)) RunTasks(seen, _index + 1);
            }
        }
    }
}
