/// `mnist eval`: loss, accuracy, confusion matrix, per-class scores and worst mistakes of a model.
module Mnist.Cli.EvalCommand

open System
open System.IO
open System.Runtime.InteropServices
open Argu
open Mnist.Core.Data
open Mnist.Core.Evaluation
open Mnist.Core.IO
open Mnist.Cli.Common

type EvalArgs =
    | [<Mandatory>] Model of path: string
    | Data_Dir of path: string
    | Mistakes of count: int
    | Test_Limit of count: int
    | Device of device: string
    | Compare_Pytorch
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model file (.safetensors)"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
            | Mistakes _ -> "how many of the most confident mistakes to list (default 10)"
            | Test_Limit _ -> "evaluate on the first N test images only"
            | Device _ -> deviceUsage
            | Compare_Pytorch -> "also compare our logits with the PyTorch twin's on 1000 test digits"

/// Our logits for the first `count` test digits, written as raw little-endian float32.
let private writeLogits (model: LoadedModel) (loader: BatchLoader) count path =
    let evaluator = Evaluator(batchSize = count)
    let logits = evaluator.Forward(model.Network, loader, 0, count).ToArray()
    File.WriteAllBytes(path, MemoryMarshal.AsBytes(ReadOnlySpan logits).ToArray())

let private compareWithPyTorch modelPath (model: LoadedModel) (data: MnistDataset) =
    let logitsPath = Path.Combine(Path.GetTempPath(), $"mnist-logits-{Guid.NewGuid():N}.f32")
    try
        writeLogits model (BatchLoader(data.Test, model.Normalization)) 1000 logitsPath
        let result =
            PyTorchTwin.run [ "compare"; "--model"; modelPath; "--logits"; logitsPath; "--count"; "1000"; "--data-dir"; data.Directory ]
            |> List.exactlyOne
        let diff = result.GetProperty("max_abs_diff").GetDouble()
        printfn "PyTorch twin on the same weights, 1000 test digits: max |logit difference| %s, same prediction %s"
            (diff.ToString "E2") (pct (result.GetProperty("argmax_agreement").GetDouble()))
        diff
    finally
        File.Delete logitsPath

let run (args: ParseResults<EvalArgs>) =
    let path = args.GetResult Model
    let model = ModelFile.Load(path, openDevice (args.TryGetResult Device))
    let data = loadData (args.TryGetResult Data_Dir)
    let limit = args.TryGetResult Test_Limit
    limit |> Option.iter (fun n -> require (n >= 1) $"test limit must be at least 1, got {n}")
    let test = limit |> Option.map data.Test.Take |> Option.defaultValue data.Test
    let result = Evaluator().Evaluate(model.Network, BatchLoader(test, model.Normalization))
    printfn "test set: %s\n" (EvaluationTables.Summary result)
    printfn "confusion matrix (rows: true digit, columns: prediction)\n%s" (EvaluationTables.Confusion result)
    printfn "%s" (EvaluationTables.PerClass result)
    printfn "most confident mistakes\n%s" (EvaluationTables.Mistakes(result, args.GetResult(Mistakes, 10)))
    if args.Contains Compare_Pytorch then
        let diff = compareWithPyTorch path model data
        if diff > 1e-4 then 1 else 0
    else 0
