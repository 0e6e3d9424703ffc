using System.Diagnostics;
using Mnist.Core.Data;
using Mnist.Core.Imaging;
using Mnist.Imaging;

namespace Mnist.Bench;

/// <summary>
/// The web app's PNG path in process: 1000 real MNIST test digits drawn 10× black on white
/// (280×280 grey PNGs, as bench/Mnist.WebBench sends them), each decoded and prepared with
/// <see cref="ImageDecoder.PrepareDigit"/> (SkiaSharp's decoder, then our MNIST preparation). Prints the median µs per image over 7 passes, the
/// bytes allocated per image (this thread) and a checksum of every result, so a change to the
/// imaging code can be shown to leave the outputs bit-identical.
/// </summary>
internal static class PngBench
{
    public static void Run(string dataDir)
    {
        var test = MnistDataset.Load(dataDir).Test;
        const int count = 1000;
        var pngs = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            var image = test.Image(i);
            var ink = new float[784];
            for (int p = 0; p < ink.Length; p++) ink[p] = image[p] / 255f;
            pngs[i] = GreyPng.EncodeUnit(ink, 28, 28, scale: 10, darkInk: true);
        }
        Console.WriteLine($"PrepareDigit on {count} MNIST test digits drawn 10x black on white ({pngs.Average(p => p.Length):F0} bytes each)");
        ulong checksum = 0;
        foreach (var png in pngs) checksum = Mix(checksum, ImageDecoder.PrepareDigit(png)); // warm-up and checksum
        var perImageUs = new List<double>();
        long allocated = 0;
        for (int run = 0; run < 7; run++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            foreach (var png in pngs) ImageDecoder.PrepareDigit(png);
            watch.Stop();
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            perImageUs.Add(watch.Elapsed.TotalMicroseconds / count);
        }
        perImageUs.Sort();
        Console.WriteLine($"  median {perImageUs[3]:F1} µs/image (runs {string.Join(", ", perImageUs.Select(u => u.ToString("F0")))}), " +
                          $"{allocated / count:N0} bytes allocated/image, gen2 GCs so far {GC.CollectionCount(2)}");
        // other paths, checksummed only: RGBA strokes on a transparent background, and a partly
        // transparent opaque-bordered RGBA image (composited over its border colour)
        for (int i = 0; i < 200; i++)
        {
            var image = test.Image(i);
            var rgba = new byte[280 * 280 * 4];
            for (int y = 0; y < 280; y++)
                for (int x = 0; x < 280; x++)
                {
                    byte v = image[(y / 10) * 28 + x / 10];
                    int o = (y * 280 + x) * 4;
                    (rgba[o], rgba[o + 1], rgba[o + 2], rgba[o + 3]) = ((byte)(20 + i), 40, 200, v);
                }
            checksum = Mix(checksum, ImageDecoder.PrepareDigit(ImageEncoder.Encode(new PixelImage(280, 280, PixelLayout.Rgba, rgba))));
            for (int p = 0; p < rgba.Length; p += 4)
                (rgba[p], rgba[p + 1], rgba[p + 2], rgba[p + 3]) = ((byte)(255 - rgba[p + 3]), 230, 240, (byte)(p % 7 == 0 ? 100 : 255));
            checksum = Mix(checksum, ImageDecoder.PrepareDigit(ImageEncoder.Encode(new PixelImage(280, 280, PixelLayout.Rgba, rgba))));
        }
        Console.WriteLine($"  checksum of all results {checksum:x16}");
    }

    private static ulong Mix(ulong hash, PreparedDigit d)
    {
        void Add(long v) => hash = (hash ^ (ulong)v) * 0x100000001b3UL;
        foreach (float p in d.Pixels) Add(BitConverter.SingleToInt32Bits(p));
        Add(d.IsEmpty ? 1 : 0);
        Add((long)d.InkSource);
        Add(d.InkBox.GetHashCode());
        Add(d.PlacedBox.GetHashCode());
        Add(BitConverter.DoubleToInt64Bits(d.Scale));
        Add(BitConverter.DoubleToInt64Bits(d.SourceCentreOfMass.X));
        Add(BitConverter.DoubleToInt64Bits(d.SourceCentreOfMass.Y));
        Add(BitConverter.DoubleToInt64Bits(d.CentreOfMass.X));
        Add(BitConverter.DoubleToInt64Bits(d.CentreOfMass.Y));
        return hash;
    }
}
