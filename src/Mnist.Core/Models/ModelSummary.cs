using System.Globalization;
using System.Text;
using Mnist.Core.Layers;
using Mnist.Core.Tensors;

namespace Mnist.Core.Models;

/// <summary>One line of a <see cref="ModelSummary"/>: a top-level layer, its per-sample output shape, its parameter count.</summary>
public sealed record SummaryRow(int Index, string Layer, int[] OutputShape, long Parameters);

/// <summary>A readable table of a model's layers with the total parameter count.</summary>
public sealed record ModelSummary(int[] InputShape, IReadOnlyList<SummaryRow> Rows, long TotalParameters)
{
    public static ModelSummary Of(Sequential model, int[] inputShape)
    {
        var rows = new List<SummaryRow>();
        var shape = inputShape;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            shape = layer.OutputShape(shape);
            rows.Add(new SummaryRow(i, layer.ToString() ?? layer.GetType().Name, shape, LayerTree.ParameterCount(layer)));
        }
        return new ModelSummary(inputShape, rows, model.ParameterCount);
    }

    /// <summary>Builds the config (weights do not matter here) and summarises it.</summary>
    public static ModelSummary Of(ModelConfig config) => Of(ModelBuilder.Build(config, 0), config.InputShape);

    public string ToTable()
    {
        var culture = CultureInfo.InvariantCulture;
        int layerWidth = "Input".Length, shapeWidth = "Output shape".Length;
        foreach (var row in Rows)
        {
            layerWidth = Math.Max(layerWidth, row.Layer.Length);
            shapeWidth = Math.Max(shapeWidth, Tensor.ShapeText(row.OutputShape).Length);
        }
        int paramWidth = Math.Max("Params".Length, TotalParameters.ToString("N0", culture).Length);
        var text = new StringBuilder();
        void Line(string index, string layer, string shape, string parameters) =>
            text.Append(index.PadLeft(3)).Append("  ").Append(layer.PadRight(layerWidth)).Append("  ")
                .Append(shape.PadRight(shapeWidth)).Append("  ").Append(parameters.PadLeft(paramWidth)).Append('\n');
        Line("#", "Layer", "Output shape", "Params");
        Line("", "Input", Tensor.ShapeText(InputShape), "");
        foreach (var row in Rows)
            Line(row.Index.ToString(culture), row.Layer, Tensor.ShapeText(row.OutputShape), row.Parameters.ToString("N0", culture));
        text.Append("Total parameters: ").Append(TotalParameters.ToString("N0", culture)).Append('\n');
        return text.ToString();
    }

    public override string ToString() => ToTable();
}
