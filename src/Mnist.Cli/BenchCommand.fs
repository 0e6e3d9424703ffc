/// `mnist bench`: training speed of a preset (median epoch time of several epochs), optionally
/// beside the PyTorch twin measured in the same run.
module Mnist.Cli.BenchCommand

open Argu
open Mnist.Core.Models
open Mnist.Core.Training
open Mnist.Cli.Common

type BenchArgs =
    | Preset of name: string
    | Runs of count: int
    | Batch_Size of size: int
    | Limit of count: int
    | Data_Dir of path: string
    | Device of device: string
    | Compare_Pytorch
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> $"network preset (default {TrainingDefaults.Preset}; the twin knows classic)"
            | Runs _ -> "epochs to time; the median is reported (default 3)"
            | Batch_Size _ -> $"mini-batch size (default {TrainingDefaults.BatchSize})"
            | Limit _ -> "time epochs over the first N training images only"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
            | Device _ -> deviceUsage
            | Compare_Pytorch -> "time the PyTorch twin (2 threads, flush-denormal) the same way and print the ratio"

let median (values: float list) =
    let sorted = List.sort values
    let n = sorted.Length
    if n % 2 = 1 then sorted[n / 2] else (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0

let run (args: ParseResults<BenchArgs>) =
    let preset = args.GetResult(Preset, TrainingDefaults.Preset)
    let runs = args.GetResult(Runs, 3)
    require (runs >= 1) "runs must be at least 1"
    let batch = args.GetResult(Batch_Size, TrainingDefaults.BatchSize)
    let backend = openDevice (args.TryGetResult Device)
    let data = loadData (args.TryGetResult Data_Dir)
    // The default recipe (what the twin mirrors with --optimizer nesterov --one-cycle).
    let spec =
        TrainingSpec(Epochs = runs, BatchSize = batch, Limit = Option.toNullable (args.TryGetResult Limit),
                     Device = TrainingSpec.DeviceOf backend).Validate()
    let config = Presets.Create preset
    let result = Trainer(config, spec, backend).Run(data, TrainingCallbacks(Epoch = fun m -> printfn "  ours  epoch %d: %s s" m.Epoch (inv "F2" m.Seconds)))
    let ours = result.History |> Seq.map (fun m -> m.Seconds) |> List.ofSeq |> median
    let images = result.History[0].Seconds * result.History[0].ImagesPerSecond
    printfn "Mnist.Experiments %s on %s, batch %d: median epoch %s s (%s img/s) over %d epochs of %.0f images" preset backend.Name batch (inv "F2" ours) (inv "F0" (images / ours)) runs images
    if args.Contains Compare_Pytorch then
        let limit = args.TryGetResult Limit |> Option.map (fun n -> [ "--limit"; string n ]) |> Option.defaultValue []
        let twin =
            PyTorchTwin.run ([ "train"; "--epochs"; string runs; "--batch-size"; string batch; "--optimizer"; TrainingDefaults.Optimizer; "--lr"; string TrainingDefaults.LearningRate; "--one-cycle"; "--data-dir"; data.Directory ] @ limit)
            |> List.map (fun line ->
                let seconds = line.GetProperty("seconds").GetDouble()
                printfn "  torch epoch %d: %s s" (line.GetProperty("epoch").GetInt32()) (inv "F2" seconds)
                seconds)
            |> median
        printfn "PyTorch twin %s, batch %d: median epoch %s s (%s img/s)" preset batch (inv "F2" twin) (inv "F0" (images / twin))
        printfn "ratio ours/PyTorch: %s" (inv "F3" (ours / twin))
    0
