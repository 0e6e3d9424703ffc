/// `mnist summary`: layers, output shapes and parameter counts of a preset or a saved model.
module Mnist.Cli.SummaryCommand

open Argu
open Mnist.Core.IO
open Mnist.Core.Models

type SummaryArgs =
    | Preset of name: string
    | Width of multiplier: float
    | Activation of name: string
    | Model of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> "network preset (default classic)"
            | Width _ -> "channel/width multiplier (default 1)"
            | Activation _ -> "activation (default relu)"
            | Model _ -> "summarise a saved model instead"

let run (args: ParseResults<SummaryArgs>) =
    let config =
        match args.TryGetResult Model with
        | Some path -> (ModelFile.Load path).Config
        | None -> Presets.Create(args.GetResult(Preset, "classic"), args.GetResult(Width, 1.0), args.GetResult(Activation, "relu"))
    printfn "%s" ((ModelSummary.Of config).ToTable())
    0
