/// `mnist export`: a saved model as a standard ONNX file, for ONNX Runtime, a browser or a phone.
module Mnist.Cli.ExportCommand

open System
open System.IO
open System.Reflection
open Argu
open Mnist.Core
open Mnist.Core.IO
open Mnist.Core.IO.Onnx
open Mnist.Cli.Common

type ExportArgs =
    | [<Mandatory>] Format of format: string
    | [<Mandatory>] Model of path: string
    | Out of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Format _ -> "file format: onnx (ONNX opset 13)"
            | Model _ -> "model file (.safetensors)"
            | Out _ -> "where to write (default: the model's path with the format's extension, e.g. model.onnx)"

/// The app's version and commit ("1.1.0+ead07e8..."), as `dotnet build` stamps them.
let private appVersion () =
    match typeof<ExportArgs>.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>() with
    | null -> "0.0.0"
    | a -> a.InformationalVersion

let run (args: ParseResults<ExportArgs>) =
    let format = args.GetResult Format
    require (format.Trim().ToLowerInvariant() = "onnx") $"unknown export format '{format}'; formats: onnx"
    let modelPath = args.GetResult Model
    let out = args.GetResult(Out, Path.ChangeExtension(modelPath, ".onnx"))
    require (Path.GetFullPath out <> Path.GetFullPath modelPath) $"--out '{out}' is the model file itself; choose another path"
    require (not (Directory.Exists out)) $"cannot write '{out}': it is a folder"
    let model = ModelFile.Load modelPath
    let bytes = OnnxExport.ToBytes(model, appVersion ())
    try Mnist.Experiments.Files.writeAllBytesAtomic out (ReadOnlySpan bytes)
    with :? IOException | :? UnauthorizedAccessException as e -> raise (MnistException($"cannot write '{out}': {e.Message}", e))
    let shape = String.Join(", ", model.Config.InputShape)
    printfn "wrote %s (ONNX opset 13, %d bytes): %s [batch, %s] in [0, 1] -> %s and %s [batch, %d]"
        out bytes.Length OnnxExport.InputName shape OnnxExport.LogitsName OnnxExport.ProbabilitiesName model.Config.NumClasses
    0
