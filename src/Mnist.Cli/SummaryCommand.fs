/// `mnist summary`: layers, output shapes and parameter counts of a preset or a saved model.
module Mnist.Cli.SummaryCommand

open Argu
open Mnist.Core.IO
open Mnist.Core.Models
open Mnist.Core.Training

type SummaryArgs =
    | Preset of name: string
    | Width of multiplier: float
    | Activation of name: string
    | Model of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> $"network preset (default {TrainingDefaults.Preset})"
            | Width _ -> $"channel/width multiplier (default {TrainingDefaults.Width})"
            | Activation _ -> $"activation (default {TrainingDefaults.Activation})"
            | Model _ -> "summarise a saved model instead"

let run (args: ParseResults<SummaryArgs>) =
    let config =
        match args.TryGetResult Model with
        | Some path -> (ModelFile.Load path).Config
        | None -> Presets.Create(args.GetResult(Preset, TrainingDefaults.Preset), args.GetResult(Width, TrainingDefaults.Width),
                        args.GetResult(Activation, TrainingDefaults.Activation))
    printfn "%s" ((ModelSummary.Of config).ToTable())
    0
