using Mnist.Core.Augmentation;

namespace Mnist.Core.Data;

/// <summary>
/// Training batches: normalised float32 images (count × 1 × H × W) and labels for given sample
/// indices, each image distorted as the spec says, reproducibly from (seed, epoch, batch index,
/// position in the batch) — see <see cref="AugmentationKey"/>. With augmentation off the batches
/// are exactly <see cref="BatchLoader"/>'s. Labels are never changed. Not thread-safe (one
/// <see cref="Augmenter"/>'s scratch buffers): <see cref="BatchProducer"/> calls it from one thread.
/// </summary>
public sealed class AugmentedBatchLoader
{
    private readonly BatchLoader _plain;
    private readonly Augmenter? _augmenter;
    private readonly Normalization _normalization;
    private readonly ulong _seed;

    public AugmentedBatchLoader(MnistSplit split, Normalization normalization, AugmentationSpec augmentation, ulong seed)
    {
        _plain = new BatchLoader(split, normalization);
        _normalization = normalization;
        _seed = seed;
        Augmentation = augmentation.Validate();
        if (!augmentation.IsOff) _augmenter = new Augmenter(augmentation, split.Height, split.Width);
    }

    public MnistSplit Split => _plain.Split;
    public AugmentationSpec Augmentation { get; }

    /// <summary>Fills the batch <paramref name="batchIndex"/> of <paramref name="epoch"/>, whose samples are <paramref name="indices"/>.</summary>
    public void Fill(ReadOnlySpan<int> indices, int epoch, int batchIndex, Span<float> images, Span<int> labels)
    {
        if (_augmenter is null)
        {
            _plain.Fill(indices, images, labels);
            return;
        }
        var split = _plain.Split;
        int size = split.ImageSize;
        for (int i = 0; i < indices.Length; i++)
        {
            ulong key = AugmentationKey.For(_seed, epoch, batchIndex, i);
            _augmenter.Augment(split.Image(indices[i]), key, _normalization, images.Slice(i * size, size));
            labels[i] = split.Labels[indices[i]];
        }
    }
}
