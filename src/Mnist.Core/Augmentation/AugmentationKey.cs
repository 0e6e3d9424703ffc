namespace Mnist.Core.Augmentation;

/// <summary>
/// The counter-based random stream of augmentation: an image's distortion is seeded by a key
/// derived from (run seed, epoch, batch index, position in the batch) alone, so it does not
/// depend on what was drawn before (a resumed run draws what an uninterrupted one would) nor on
/// which thread prepares the image.
/// </summary>
public static class AugmentationKey
{
    // Keeps these keys apart from other streams seeded from the same run seed.
    private const ulong Domain = 0xA5_67_3E_21_9B_0C_D4_F1UL;
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    public static ulong For(ulong seed, int epoch, int batch, int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ulong key = Rng.Mix(seed ^ Domain);
        key = Rng.Mix(key + (ulong)epoch * Golden);
        key = Rng.Mix(key + (ulong)batch * Golden);
        return Rng.Mix(key + (ulong)position * Golden);
    }
}
