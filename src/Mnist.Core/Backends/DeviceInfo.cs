namespace Mnist.Core.Backends;

/// <summary>One device `mnist devices` lists.</summary>
/// <param name="Name">What --device takes to use it ("cpu", "cuda:0").</param>
/// <param name="Description">The hardware ("AMD EPYC 7B13", "NVIDIA H200").</param>
/// <param name="Details">What matters for speed (SIMD width and threads; memory and compute capability).</param>
public sealed record DeviceInfo(string Name, string Description, string Details)
{
    public override string ToString() => $"{Name,-10} {Description}: {Details}";
}
