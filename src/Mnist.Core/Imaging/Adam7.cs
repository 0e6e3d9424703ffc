namespace Mnist.Core.Imaging;

/// <summary>One of Adam7's seven passes: which pixels of the full image it carries.</summary>
public readonly record struct Adam7Pass(int XStart, int YStart, int XStep, int YStep)
{
    /// <summary>The pass's own width and height (either may be zero: the pass is then absent).</summary>
    public (int Width, int Height) Size(int imageWidth, int imageHeight) =>
        (Count(imageWidth, XStart, XStep), Count(imageHeight, YStart, YStep));

    private static int Count(int length, int start, int step) =>
        length <= start ? 0 : (int)(((long)length - start + step - 1) / step);
}

/// <summary>The Adam7 interlace pattern (PNG specification, section 8.2).</summary>
public static class Adam7
{
    public static readonly Adam7Pass[] Passes =
    [
        new(0, 0, 8, 8), new(4, 0, 8, 8), new(0, 4, 4, 8), new(2, 0, 4, 4),
        new(0, 2, 2, 4), new(1, 0, 2, 2), new(0, 1, 1, 2),
    ];

    /// <summary>The whole image as one "pass", for non-interlaced files.</summary>
    public static readonly Adam7Pass Whole = new(0, 0, 1, 1);
}
