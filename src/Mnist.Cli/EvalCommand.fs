/// `mnist eval`: loss, accuracy, confusion matrix, per-class scores and worst mistakes of a model.
module Mnist.Cli.EvalCommand

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

let private compareWithPyTorch modelPath model data =
    let result = PyTorchTwin.compare modelPath model data 1000
    printfn "PyTorch twin on the same weights, %d test digits: max |logit difference| %s, same prediction %s"
        result.Count (result.MaxAbsDiff.ToString "E2") (pct result.ArgmaxAgreement)
    result.MaxAbsDiff

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
        if diff > PyTorchTwin.Tolerance then
            eprintfn "error: the logits differ from the PyTorch twin's by more than %g" PyTorchTwin.Tolerance
            1
        else 0
    else 0
