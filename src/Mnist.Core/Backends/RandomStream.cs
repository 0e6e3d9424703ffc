namespace Mnist.Core.Backends;

/// <summary>
/// Where a dropout mask's random numbers come from: number i of the mask is
/// <see cref="Philox"/> word (<see cref="Seed"/>, <see cref="Stream"/>, <see cref="Counter"/> + i),
/// a pure function of those three, so every backend draws the same mask in any order (engine-2;
/// engine-1 drew them in sequence from a xoshiro256** generator, which only a CPU can reproduce).
/// </summary>
/// <param name="Seed">The key: the run seed mixed with the epoch (set when the model is built, then by the trainer every epoch).</param>
/// <param name="Stream">Which dropout layer of the model (1, 2, ...).</param>
/// <param name="Counter">Numbers the layer has drawn since it was seeded.</param>
public readonly record struct RandomStream(ulong Seed, ulong Stream, ulong Counter)
{
    /// <summary>Number <paramref name="index"/> of the stream as a float uniform in [0, 1).</summary>
    public float Unit(ulong index) => Philox.ToUnit(Philox.Word(Seed, Stream, Counter + index));
}
