namespace Mnist.Core.Data;

/// <summary>
/// Pixel preprocessing: bytes scaled to [0,1], then standardised with the training set's mean and
/// standard deviation. Stored with every model so inference sees what training saw.
/// </summary>
public readonly record struct Normalization(float Mean, float Std)
{
    /// <summary>Mean and standard deviation of all training pixels in [0,1] (MNIST: 0.1307, 0.3081).</summary>
    public static Normalization FromTraining(MnistSplit train)
    {
        var histogram = new long[256];
        foreach (byte p in train.Pixels) histogram[p]++;
        double n = train.Pixels.Length, sum = 0, sumSquares = 0;
        for (int v = 0; v < 256; v++)
        {
            double x = v / 255.0;
            sum += histogram[v] * x;
            sumSquares += histogram[v] * x * x;
        }
        double mean = sum / n;
        double std = Math.Sqrt(Math.Max(sumSquares / n - mean * mean, 1e-12));
        return new Normalization((float)mean, (float)std);
    }

    /// <summary>The normalised value of each of the 256 byte values.</summary>
    public float[] LookupTable()
    {
        var table = new float[256];
        for (int v = 0; v < 256; v++) table[v] = Apply(v / 255f);
        return table;
    }

    public float Apply(float unit) => (unit - Mean) / Std;

    /// <summary>Normalises values already scaled to [0,1] (pixels drawn in a browser, say).</summary>
    public void Apply(ReadOnlySpan<float> unit, Span<float> destination)
    {
        for (int i = 0; i < unit.Length; i++) destination[i] = Apply(unit[i]);
    }
}
