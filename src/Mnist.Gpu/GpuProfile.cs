using System.Collections.Concurrent;
using System.Diagnostics;
using ILGPU.Runtime;

namespace Mnist.Gpu;

/// <summary>
/// Where a GPU run spends its time, when MNIST_GPU_PROFILE=1: each backend entry point (and each
/// GEMM shape) waits for the device before and after, and its wall time is summed under its name;
/// the table goes to standard error when the process exits. Waiting serialises the device, so a
/// profiled run is slower than a plain one: the table says where, not how fast.
/// </summary>
internal static class GpuProfile
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("MNIST_GPU_PROFILE") == "1";
    private static readonly ConcurrentDictionary<string, (long Ticks, long Calls)> Totals = new();

    static GpuProfile()
    {
        if (Enabled) AppDomain.CurrentDomain.ProcessExit += (_, _) => Report(Console.Error);
    }

    /// <summary>A start mark once the device is idle (0 when profiling is off).</summary>
    public static long Start(Accelerator accelerator)
    {
        if (!Enabled) return 0;
        accelerator.Synchronize();
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Adds the time since <paramref name="start"/>, once the device has finished, under <paramref name="name"/>.</summary>
    public static void Stop(Accelerator accelerator, string name, long start)
    {
        if (!Enabled) return;
        accelerator.Synchronize();
        long ticks = Stopwatch.GetTimestamp() - start;
        Totals.AddOrUpdate(name, (ticks, 1), (_, t) => (t.Ticks + ticks, t.Calls + 1));
    }

    private static void Report(TextWriter to)
    {
        var rows = Totals.OrderByDescending(kv => kv.Value.Ticks).ToList();
        to.WriteLine("GPU profile (device waited for around each call; GEMM rows are inside their entry point's):");
        foreach (var (name, (ticks, calls)) in rows)
        {
            double ms = ticks * 1000.0 / Stopwatch.Frequency;
            to.WriteLine($"  {name,-44} {calls,8} calls {ms,10:F1} ms {1000 * ms / calls,9:F1} us/call");
        }
    }
}
