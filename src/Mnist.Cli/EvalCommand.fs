/// `mnist eval`: loss, accuracy, confusion matrix, per-class scores and worst mistakes of a model.
module Mnist.Cli.EvalCommand

open System
open Argu
open Mnist.Core.Data
open Mnist.Core.Evaluation
open Mnist.Core.IO
open Mnist.Cli.Common

/// " with test-time augmentation shifts", or nothing for none.
let viewsText (views: Mnist.Core.Augmentation.TestTimeAugmentation) =
    if views.IsOff then "" else $" with test-time augmentation {views.Name}"

type EvalArgs =
    | [<Mandatory>] Model of path: string
    | Data_Dir of path: string
    | Mistakes of count: int
    | Test_Limit of count: int
    | Device of device: string
    | Tta of name: string
    | Compare_Pytorch
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model file (.safetensors), or an ensemble (its folder or its ensemble.json)"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
            | Mistakes _ -> "how many of the most confident mistakes to list (default 10)"
            | Test_Limit _ -> "evaluate on the first N test images only"
            | Device _ -> deviceUsage
            | Tta _ -> $"""test-time augmentation: {String.concat ", " Mnist.Core.Augmentation.TestTimeAugmentation.Names} (default: the one the model was trained with)"""
            | Compare_Pytorch -> "also compare our logits with the PyTorch twin's on 1000 test digits"

let private compareWithPyTorch modelPath model data =
    let result = PyTorchTwin.compare modelPath model data 1000
    printfn "PyTorch twin on the same weights, %d test digits: max |logit difference| %s, same prediction %s"
        result.Count (result.MaxAbsDiff.ToString "E2") (pct result.ArgmaxAgreement)
    result.MaxAbsDiff

let run (args: ParseResults<EvalArgs>) =
    let path = args.GetResult Model
    let loaded = ClassifierFile.Load(path, openDevice (args.TryGetResult Device), Option.toObj (args.TryGetResult Tta))
    require (not (args.Contains Compare_Pytorch && loaded.IsEnsemble)) "--compare-pytorch compares one model, not an ensemble: give a member's file"
    let data = loadData (args.TryGetResult Data_Dir)
    let limit = args.TryGetResult Test_Limit
    limit |> Option.iter (fun n -> require (n >= 1) $"test limit must be at least 1, got {n}")
    let test = limit |> Option.map data.Test.Take |> Option.defaultValue data.Test
    let classifier = loaded.Classifier
    if loaded.IsEnsemble then printfn "ensemble of %d models%s" classifier.Members.Count (viewsText classifier.Views)
    elif not classifier.Views.IsOff then printfn "test-time augmentation: %s" classifier.Views.Name
    let result = Evaluator().Evaluate(classifier, test)
    printfn "test set: %s\n" (EvaluationTables.Summary result)
    printfn "confusion matrix (rows: true digit, columns: prediction)\n%s" (EvaluationTables.Confusion result)
    printfn "%s" (EvaluationTables.PerClass result)
    printfn "most confident mistakes\n%s" (EvaluationTables.Mistakes(result, args.GetResult(Mistakes, 10)))
    if args.Contains Compare_Pytorch then
        let diff = compareWithPyTorch path loaded.Models[0] data
        if diff > PyTorchTwin.Tolerance then
            eprintfn "error: the logits differ from the PyTorch twin's by more than %g" PyTorchTwin.Tolerance
            1
        else 0
    else 0
