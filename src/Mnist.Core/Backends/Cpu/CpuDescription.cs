using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Mnist.Core.Kernels;

namespace Mnist.Core.Backends.Cpu;

/// <summary>What `mnist devices` says about the CPU: its model, the vector instructions the kernels use, the threads.</summary>
internal static class CpuDescription
{
    public static DeviceInfo Of() => new(DeviceName.Cpu, Model(), $"{Simd()}, {KernelThreads.MaxThreads} kernel threads");

    /// <summary>The processor's name (Linux: /proc/cpuinfo; elsewhere what the runtime knows).</summary>
    private static string Model()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Environment.GetEnvironmentVariable("PROCESSOR_IDENTIFIER") is { Length: > 0 } id
            ? id : $"{RuntimeInformation.ProcessArchitecture} processor";
    }

    private static string Simd()
    {
        string gemm = Avx512F.IsSupported ? "AVX-512 (512-bit)" : Avx2.IsSupported && Fma.IsSupported ? "AVX2+FMA (256-bit)" : "no AVX2";
        return $"GEMM tiles {gemm}, Vector<float> {Vector<float>.Count * 32}-bit ({Vector<float>.Count} floats)";
    }
}
