using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Mnist.Core;
using Mnist.Core.Backends;
using Mnist.Gpu;

[assembly: BackendProvider(typeof(GpuProvider))]

namespace Mnist.Gpu;

/// <summary>
/// The devices ILGPU reaches: each NVIDIA GPU as "cuda:N" (the driver is all it needs: ILGPU
/// writes the PTX itself) and ILGPU's CPU accelerator as "ilgpu-cpu", which runs the same kernels
/// on any machine (the tests' device). A device that is not there is one line naming the problem.
/// </summary>
public sealed class GpuProvider : IBackendProvider
{
    public IReadOnlyList<string> Kinds { get; } = [DeviceName.Cuda, DeviceName.IlgpuCpu];

    public Backend Open(DeviceName device) => device.Kind switch
    {
        DeviceName.IlgpuCpu => OpenCpu(),
        DeviceName.Cuda => OpenCuda(device.Index ?? 0),
        _ => throw new MnistException($"the GPU backend does not serve device '{device}'"),
    };

    public IEnumerable<DeviceInfo> List()
    {
        var found = new List<DeviceInfo>();
        try
        {
            using var context = CudaContext();
            var gpus = Gpus(context);
            for (int i = 0; i < gpus.Count; i++) found.Add(Describe(gpus[i], i));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // No driver: no CUDA devices to list.
        }
        found.Add(CpuInfo());
        return found;
    }

    /// <summary>
    /// The CPU accelerator simulates one multiprocessor with groups of 4 threads, run
    /// sequentially: every simulated thread is an OS thread, and the parallel mode keeps each
    /// spinning on the cores at barriers. Small groups keep the hand-offs few.
    /// </summary>
    private static CPUDevice CpuDevice() => new(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: 1, numMultiprocessors: 1);

    private static DeviceInfo CpuInfo() =>
        new(DeviceName.IlgpuCpu, "ILGPU CPU accelerator", "the GPU kernels run on the CPU, one simulated multiprocessor (slowly: for tests)");

    private static GpuBackend OpenCpu()
    {
        var device = CpuDevice();
        var context = Context.Create(builder => builder.CPU(device).EnableAlgorithms());
        var accelerator = device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
        return new GpuBackend(context, accelerator, DeviceName.IlgpuCpu, DeviceName.IlgpuCpu, CpuInfo(), gemmSide: 2, reduceThreads: 4);
    }

    private static Context CudaContext() => Context.Create(builder => builder.Cuda().EnableAlgorithms());

    private static GpuBackend OpenCuda(int index)
    {
        Context context;
        IReadOnlyList<CudaDevice> gpus;
        try
        {
            context = CudaContext();
            gpus = Gpus(context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw NoGpu($"the NVIDIA driver could not be loaded ({FirstLine(e.Message)})");
        }
        if (gpus.Count == 0)
        {
            context.Dispose();
            throw NoGpu("no NVIDIA GPU or driver was found");
        }
        if (index >= gpus.Count)
        {
            context.Dispose();
            throw new MnistException($"device 'cuda:{index}' does not exist: this machine has {gpus.Count} CUDA device(s), cuda:0..cuda:{gpus.Count - 1}");
        }
        var accelerator = gpus[index].CreateAccelerator(context);
        return new GpuBackend(context, accelerator, DeviceName.Cuda, $"cuda:{index}", Describe(gpus[index], index), gemmSide: 8,
            reduceThreads: 256);
    }

    private static List<CudaDevice> Gpus(Context context)
    {
        var gpus = new List<CudaDevice>();
        foreach (var gpu in context.GetCudaDevices()) gpus.Add(gpu);
        return gpus;
    }

    private static MnistException NoGpu(string why) =>
        new($"device 'cuda' is not available: {why}; use --device cpu (or ilgpu-cpu)");

    private static DeviceInfo Describe(CudaDevice gpu, int index) =>
        new($"cuda:{index}", gpu.Name,
            $"{gpu.MemorySize / (1024.0 * 1024 * 1024):0.0} GiB, compute capability {gpu.Architecture?.Major}.{gpu.Architecture?.Minor}, " +
            $"{gpu.NumMultiprocessors} multiprocessors");

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
