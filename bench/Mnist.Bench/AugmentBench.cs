using System.Diagnostics;
using Mnist.Core.Augmentation;
using Mnist.Core.Data;

namespace Mnist.Bench;

/// <summary>
/// Augmentation throughput on one thread: 60,000 real MNIST training images filled into batches
/// of 64 by <see cref="AugmentedBatchLoader"/> (byte to normalised float, distortion included),
/// for augmentation off, the standard affine recipe and affine plus Simard's elastic field; the
/// affine path also with the neighbours read lane by lane instead of by AVX2 gathers. Prints the
/// median images/s over 5 passes — by the wall clock and by this thread's CPU time, which other
/// processes on the same cores disturb less — bytes allocated per image and a checksum of the
/// last pass's batches, so a faster kernel can be shown to give the same images.
/// </summary>
internal static class AugmentBench
{
    private const int Batch = 64;

    public static void Run(string dataDir)
    {
        var train = MnistDataset.Load(dataDir).Train;
        var normalization = Normalization.FromTraining(train);
        var elastic = AugmentationSpec.Standard with { ElasticAlpha = AugmentationSpec.SimardAlpha };
        Console.WriteLine($"Augmentation, one thread, {train.Count} images in batches of {Batch}, median of 5 passes " +
                          $"(load average {File.ReadAllText("/proc/loadavg")[..14]})");
        Console.WriteLine($"  {"",-30} {"wall clock",14}  {"CPU time",14}");
        foreach (var (name, spec, gather) in new[]
                 {
                     ("off", AugmentationSpec.None, true),
                     ("standard affine", AugmentationSpec.Standard, true),
                     ("standard affine, no gathers", AugmentationSpec.Standard, false),
                     ("affine + elastic", elastic, true),
                 })
        {
            var saved = BilinearWarp.UseGather;
            BilinearWarp.UseGather = gather && saved;
            try
            {
                Measure(name, new AugmentedBatchLoader(train, normalization, spec, seed: 1), train.Count);
            }
            finally
            {
                BilinearWarp.UseGather = saved;
            }
        }
    }

    private static void Measure(string name, AugmentedBatchLoader loader, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var images = new float[Batch * loader.Split.ImageSize];
        var labels = new int[Batch];
        ulong checksum = 0;
        void Pass(int epoch)
        {
            for (int b = 0, start = 0; start < count; b++, start += Batch)
            {
                int n = Math.Min(Batch, count - start);
                loader.Fill(order.AsSpan(start, n), epoch, b, images, labels);
                if (epoch == 5) checksum = Mix(checksum, images.AsSpan(0, n * loader.Split.ImageSize));
            }
        }
        Pass(0); // warm-up
        var (wall, cpu) = (new List<double>(), new List<double>());
        long allocated = 0;
        for (int epoch = 1; epoch <= 5; epoch++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            double cpu0 = Program.ThreadCpuSeconds();
            var watch = Stopwatch.StartNew();
            Pass(epoch);
            wall.Add(count / watch.Elapsed.TotalSeconds);
            cpu.Add(count / (Program.ThreadCpuSeconds() - cpu0));
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        wall.Sort();
        cpu.Sort();
        Console.WriteLine($"  {name,-30} {wall[2],10:N0} img/s  {cpu[2],10:N0} img/s  " +
                          $"{(double)allocated / count:F2} bytes/image, checksum {checksum:x16}");
    }

    private static ulong Mix(ulong hash, ReadOnlySpan<float> values)
    {
        foreach (float v in values) hash = (hash ^ (uint)BitConverter.SingleToInt32Bits(v)) * 0x100000001b3UL;
        return hash;
    }
}
