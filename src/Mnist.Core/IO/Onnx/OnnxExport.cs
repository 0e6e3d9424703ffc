using Mnist.Core.Data;
using Mnist.Core.Layers;
using Mnist.Core.Models;

namespace Mnist.Core.IO.Onnx;

/// <summary>
/// A whole model as a standard ONNX model (IR 7, opset 13) that ONNX Runtime, onnxruntime-web or
/// a phone runs: input "pixels" [batch, 1, 28, 28] with values in [0, 1], as
/// <see cref="Inference.Predictor"/> takes them; the model's normalisation (x − mean)/std inside the
/// graph; outputs "logits" [batch, classes] and "probabilities" (their softmax). The metadata
/// carries the model config and normalisation (under the model file's keys) and the engine and
/// app versions.
/// </summary>
public static class OnnxExport
{
    public const string InputName = "pixels";
    public const string LogitsName = "logits";
    public const string ProbabilitiesName = "probabilities";
    public const string EngineKey = "mnist.engine";
    public const string AppKey = "mnist.app";

    /// <summary>The ONNX model's bytes; <paramref name="appVersion"/> names the program that wrote it.</summary>
    public static byte[] ToBytes(Sequential network, ModelConfig config, Normalization normalization, string appVersion)
    {
        var graph = new OnnxGraph();
        string pixels = graph.Input(InputName, config.InputShape);
        string mean = graph.Initializer("normalization.mean", [normalization.Mean]);
        string std = graph.Initializer("normalization.std", [normalization.Std]);
        var x = new OnnxValue(graph.Node("Div", [graph.Node("Sub", [pixels, mean]), std]), config.InputShape);
        var logits = new OnnxExporter(graph).Run(network, x, "");
        graph.Output(LogitsName, logits.Name, logits.Shape);
        graph.Output(ProbabilitiesName, graph.Node("Softmax", [LogitsName], OnnxAttribute.Of("axis", 1L)), logits.Shape);

        var metadata = ModelFile.Metadata(config, normalization);
        metadata.Remove(ModelFile.FormatKey); // the safetensors layout's version, not this file's
        metadata[EngineKey] = EngineVersion.Current;
        metadata[AppKey] = appVersion;
        string doc = $"Mnist.Experiments {config.Name ?? "model"}: {InputName} [batch, {string.Join(", ", config.InputShape)}] in [0, 1] " +
                     $"-> {LogitsName} and {ProbabilitiesName} [batch, {config.NumClasses}]";
        return graph.ToModel(config.Name ?? "model", appVersion, doc, [.. metadata.OrderBy(m => m.Key, StringComparer.Ordinal)]);
    }

    /// <inheritdoc cref="ToBytes(Sequential, ModelConfig, Normalization, string)"/>
    public static byte[] ToBytes(LoadedModel model, string appVersion) => ToBytes(model.Network, model.Config, model.Normalization, appVersion);
}
