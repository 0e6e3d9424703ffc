namespace Mnist.Core.Backends;

/// <summary>
/// Where a dropout mask's random numbers come from. Engine-1 draws them in order from
/// <see cref="Sequence"/> (xoshiro256**, the layer's own generator), which only a backend that
/// runs the draws one after another can reproduce: the CPU. A counter-based generator (Philox)
/// would compute element i's number from (<see cref="Seed"/>, <see cref="Stream"/>,
/// <see cref="Counter"/> + i) alone, the same on every backend and in any order; switching to
/// it changes the masks, so it needs a new engine version.
/// </summary>
/// <param name="Seed">The key: the run seed mixed with the epoch (0 until the trainer seeds the layer).</param>
/// <param name="Stream">Which dropout layer of the model (1, 2, ...).</param>
/// <param name="Counter">Numbers the layer has drawn since it was seeded.</param>
public readonly record struct RandomStream(Rng Sequence, ulong Seed, ulong Stream, ulong Counter);
