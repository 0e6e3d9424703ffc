namespace Mnist.Core.Kernels;

/// <summary>
/// Scratch buffers a layer hands to its kernels: each slot grows to the largest size asked for and
/// is then reused, so the steady-state training step allocates nothing.
/// <see cref="Convolution"/> uses slots 0–2 and 8, <see cref="WinogradConvolution"/> slots 3–6, <see cref="DirectConvolution"/> slot 7. Each convolution layer owns one and hands it to its
/// backend's convolution entry points; a backend other than the CPU keeps its own per-layer
/// scratch in <see cref="DeviceState"/>.
/// </summary>
public sealed class Workspace
{
    private float[][] _slots = [];

    /// <summary>Whatever a non-CPU backend keeps for this layer between calls (its scratch buffers, say).</summary>
    public object? DeviceState { get; set; }

    public Span<float> Get(int slot, int length)
    {
        if (slot >= _slots.Length) Array.Resize(ref _slots, slot + 1);
        var buffer = _slots[slot];
        if (buffer is null || buffer.Length < length) _slots[slot] = buffer = new float[length];
        return buffer.AsSpan(0, length);
    }
}
