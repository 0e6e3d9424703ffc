namespace Mnist.Core.Data;

/// <summary>Carves a validation set off the end of the training split (as Keras' validation_split does).</summary>
public static class ValidationSplit
{
    public static (MnistSplit Train, MnistSplit Validation) Carve(MnistSplit train, int validationCount)
    {
        if (validationCount <= 0 || validationCount >= train.Count)
            throw new MnistException($"validation size must be between 1 and {train.Count - 1}, got {validationCount}");
        int keep = train.Count - validationCount;
        int size = train.ImageSize;
        var kept = new MnistSplit(train.Pixels[..(keep * size)], train.Labels[..keep], train.Height, train.Width);
        var held = new MnistSplit(train.Pixels[(keep * size)..], train.Labels[keep..], train.Height, train.Width);
        return (kept, held);
    }
}
