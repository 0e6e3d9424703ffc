using ILGPU;
using ILGPU.Runtime;

namespace Mnist.Gpu.Kernels;

/// <summary>
/// Sums across one group in a fixed tree (halving strides), so a group's total never depends on
/// timing: each thread first sums its own elements (every group-size-th one, in order), then the
/// group folds the partial sums pairwise. The group size (a power of two) is the launch's: 64 on a
/// GPU, 4 on the CPU accelerator.
/// </summary>
internal static class Reduce
{
    /// <summary>One group of <paramref name="threads"/> per item, with the shared memory <see cref="Sum"/> needs.</summary>
    public static KernelConfig PerItem(int items, int threads) =>
        new(items, threads, SharedMemoryConfig.RequestDynamic<double>(threads));

    /// <summary>The group's total of <paramref name="value"/>; every thread gets it.</summary>
    public static double Sum(double value)
    {
        var shared = SharedMemory.GetDynamic<double>();
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        double total = shared[0];
        Group.Barrier();
        return total;
    }
}
