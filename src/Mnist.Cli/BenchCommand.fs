/// `mnist bench`: training speed of a preset (median epoch time of several epochs), optionally
/// beside the PyTorch and LibTorch twins measured in the same run.
module Mnist.Cli.BenchCommand

open System
open System.IO
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
    | Compare_Libtorch
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> $"network preset (default {TrainingDefaults.Preset})"
            | Runs _ -> "epochs to time; the median is reported (default 3)"
            | Batch_Size _ -> $"mini-batch size (default {TrainingDefaults.BatchSize})"
            | Limit _ -> "time epochs over the first N training images only"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
            | Device _ -> deviceUsage
            | Compare_Pytorch -> "also time the PyTorch twin (python3-torch, 2 threads, flush-denormal) the same way and print the ratio"
            | Compare_Libtorch -> "also time the LibTorch twin (TorchSharp, 2 threads; scripts/libtorch-twin) the same way and print the ratio"

let median (values: float list) =
    let sorted = List.sort values
    let n = sorted.Length
    if n % 2 = 1 then sorted[n / 2] else (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0

/// A reference implementation to time: its name, the tag of its per-epoch lines, and how to run it.
type private Twin = { Name: string; Tag: string; Run: string list -> Text.Json.JsonElement list }

let private pytorch = { Name = "PyTorch"; Tag = "torch"; Run = PyTorchTwin.run }
let private libtorch = { Name = "LibTorch"; Tag = "libtorch"; Run = LibTorchTwin.run }

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
    let chosen = [ if args.Contains Compare_Pytorch then pytorch
                   if args.Contains Compare_Libtorch then libtorch ]
    if not chosen.IsEmpty then
        // The twins train the very network we just timed, from its config, with our recipe.
        let configPath = Path.Combine(Path.GetTempPath(), $"mnist-bench-{Guid.NewGuid():N}.json")
        File.WriteAllText(configPath, config.ToJson())
        try
            let twinArgs =
                [ "train"; "--config"; configPath; "--epochs"; string runs; "--batch-size"; string batch
                  "--optimizer"; spec.Optimizer.Name; "--lr"; string spec.LearningRate; "--one-cycle"; "--data-dir"; data.Directory ]
                @ (args.TryGetResult Limit |> Option.map (fun n -> [ "--limit"; string n ]) |> Option.defaultValue [])
            let timed =
                [ for twin in chosen ->
                      let seconds =
                          twin.Run twinArgs
                          |> List.map (fun line ->
                              let seconds = line.GetProperty("seconds").GetDouble()
                              printfn "  %s epoch %d: %s s" twin.Tag (line.GetProperty("epoch").GetInt32()) (inv "F2" seconds)
                              seconds)
                          |> median
                      printfn "%s twin %s, batch %d: median epoch %s s (%s img/s)" twin.Name preset batch (inv "F2" seconds) (inv "F0" (images / seconds))
                      twin, seconds ]
            for twin, seconds in timed do
                printfn "ratio ours/%s: %s" twin.Name (inv "F3" (ours / seconds))
        finally
            File.Delete configPath
    0
