using System.Buffers.Binary;
using System.IO.Compression;
using static TorchSharp.torch;

/// <summary>MNIST's IDX files (raw or .gz) as tensors, normalised as our Trainer does.</summary>
static class MnistFiles
{
    /// <summary>Images scaled to [0, 1] as [N, 1, H, W] and labels as int64, of "train" or "t10k".</summary>
    public static (Tensor Images, Tensor Labels) Load(string folder, string split)
    {
        var (imageDims, pixels) = Read(folder, $"{split}-images-idx3-ubyte");
        var (_, labels) = Read(folder, $"{split}-labels-idx1-ubyte");
        var images = tensor(pixels, [imageDims[0], 1, imageDims[1], imageDims[2]]).to_type(ScalarType.Float32) / 255f;
        return (images, tensor(labels).to_type(ScalarType.Int64));
    }

    /// <summary>The mean and (population) standard deviation of every pixel, in double.</summary>
    public static (float Mean, float Std) Statistics(Tensor images)
    {
        var values = images.to_type(ScalarType.Float64);
        return ((float)values.mean().item<double>(), (float)values.std(unbiased: false).item<double>());
    }

    private static (int[] Dims, byte[] Data) Read(string folder, string name)
    {
        string raw = Path.Combine(folder, name);
        byte[] bytes = File.Exists(raw) ? File.ReadAllBytes(raw) : Gunzip(raw + ".gz");
        int rank = bytes[3];
        var dims = new int[rank];
        for (int i = 0; i < rank; i++) dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
        return (dims, bytes[(4 + 4 * rank)..]);
    }

    private static byte[] Gunzip(string path)
    {
        using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }
}
