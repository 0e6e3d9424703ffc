namespace Mnist.Core.Data;

/// <summary>MNIST's training and test splits as loaded from one folder.</summary>
public sealed record MnistDataset(MnistSplit Train, MnistSplit Test, string Directory)
{
    /// <summary>
    /// Loads the four standard files (raw or .gz) from a folder, checking their structure: IDX
    /// headers, payload lengths, matching image and label counts, labels in 0..9.
    /// </summary>
    public static MnistDataset Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new MnistException($"data folder not found: {directory}");
        var missing = MnistFiles.All.Where(n => MnistFiles.Find(directory, n) is null).ToList();
        if (missing.Count > 0)
            throw new MnistException($"{directory} lacks {string.Join(", ", missing)} (raw or .gz)");
        return new MnistDataset(
            LoadSplit(directory, MnistFiles.TrainImages, MnistFiles.TrainLabels),
            LoadSplit(directory, MnistFiles.TestImages, MnistFiles.TestLabels),
            Path.GetFullPath(directory));
    }

    private static MnistSplit LoadSplit(string directory, string imagesName, string labelsName)
    {
        string imagesPath = MnistFiles.Find(directory, imagesName)!;
        string labelsPath = MnistFiles.Find(directory, labelsName)!;
        var images = IdxFile.Read(imagesPath, expectedRank: 3);
        var labels = IdxFile.Read(labelsPath, expectedRank: 1);
        if (images.Count != labels.Count)
            throw new IdxFormatException(labelsPath, $"holds {labels.Count} labels but {Path.GetFileName(imagesPath)} holds {images.Count} images");
        int bad = Array.FindIndex(labels.Data, l => l > 9);
        if (bad >= 0)
            throw new IdxFormatException(labelsPath, $"label {labels.Data[bad]} at index {bad} is outside 0..9");
        return new MnistSplit(images.Data, labels.Data, images.Dims[1], images.Dims[2]);
    }
}
