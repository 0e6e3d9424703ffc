using Mnist.Core.Inference;
using Mnist.Imaging;

namespace Mnist.Web;

/// <summary>Lays feature maps out in a grid (8 per row) as one small PNG for the page.</summary>
public static class FeatureMapSheet
{
    public const int Columns = 8, Gap = 1;
    private const float GapShade = 0.35f;

    public static FeatureMapsDto Of(FeatureMaps maps)
    {
        int columns = Math.Min(Columns, maps.Channels);
        int rows = (maps.Channels + columns - 1) / columns;
        int width = columns * (maps.Width + Gap) - Gap, height = rows * (maps.Height + Gap) - Gap;
        var sheet = new float[width * height];
        sheet.AsSpan().Fill(GapShade);
        for (int c = 0; c < maps.Channels; c++)
        {
            var map = maps.Map(c);
            float max = 0;
            foreach (float v in map) max = Math.Max(max, v);
            float scale = max > 0 ? 1f / max : 0f;
            int left = c % columns * (maps.Width + Gap), top = c / columns * (maps.Height + Gap);
            for (int y = 0; y < maps.Height; y++)
                for (int x = 0; x < maps.Width; x++)
                    sheet[(top + y) * width + left + x] = Math.Max(0f, map[y * maps.Width + x] * scale);
        }
        var png = GreyPng.EncodeUnit(sheet, width, height);
        return new FeatureMapsDto(maps.Layer, maps.Channels, maps.Width, maps.Height, columns, Gap, GreyPng.ToDataUrl(png));
    }
}
