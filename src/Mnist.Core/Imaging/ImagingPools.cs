using System.Buffers;

namespace Mnist.Core.Imaging;

/// <summary>
/// The buffers image decoding (Mnist.Imaging) and preparation rent. Canvas-sized images (up to a quarter
/// megapixel) reuse pooled arrays; anything larger is allocated and left to the GC, so one huge
/// upload cannot make a long-running server keep hundreds of megabytes in a pool.
/// </summary>
public static class ImagingPools
{
    private const int MaxPooledLength = 1 << 20; // 1 Mi elements: a 512×512 RGBA image, 4 MB of floats

    public static readonly ArrayPool<byte> Bytes = ArrayPool<byte>.Create(MaxPooledLength, maxArraysPerBucket: 8);
    public static readonly ArrayPool<float> Floats = ArrayPool<float>.Create(MaxPooledLength, maxArraysPerBucket: 8);
    public static readonly ArrayPool<int> Ints = ArrayPool<int>.Create(MaxPooledLength, maxArraysPerBucket: 8);
}
