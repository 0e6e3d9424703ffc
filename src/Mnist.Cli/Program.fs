module Mnist.Cli.Program

open Argu
open Mnist.Core
open Mnist.Cli.DataCommands
open Mnist.Cli.TrainCommand
open Mnist.Cli.EvalCommand
open Mnist.Cli.SummaryCommand
open Mnist.Cli.BenchCommand
open Mnist.Cli.PredictCommand
open Mnist.Cli.GradcheckCommand
open Mnist.Cli.ServeCommand
open Mnist.Cli.AugmentCommand

[<HelpFlags("--help", "-h")>]
type MnistArgs =
    | [<AltCommandLine("-V")>] Version
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataArgs>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Eval of ParseResults<EvalArgs>
    | [<CliPrefix(CliPrefix.None)>] Predict of ParseResults<PredictArgs>
    | [<CliPrefix(CliPrefix.None)>] Summary of ParseResults<SummaryArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Gradcheck of ParseResults<GradcheckArgs>
    | [<CliPrefix(CliPrefix.None)>] Serve of ParseResults<ServeArgs>
    | [<CliPrefix(CliPrefix.None)>] Augment of ParseResults<AugmentArgs>
    | [<SubCommand; CliPrefix(CliPrefix.None)>] Devices
    | [<CliPrefix(CliPrefix.None)>] Export of ParseResults<ExportCommand.ExportArgs>
    | [<CliPrefix(CliPrefix.None)>] Sweep of ParseResults<ExperimentCommands.Sweep.Args>
    | [<CliPrefix(CliPrefix.None)>] Runs of ParseResults<ExperimentCommands.Runs.Args>
    | [<CliPrefix(CliPrefix.None)>] Run of ParseResults<ExperimentCommands.Rerun.Args>
    | [<CliPrefix(CliPrefix.None)>] Report of ParseResults<ExperimentCommands.Report.Args>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<ExperimentCommands.CompareRuns.Args>
    | [<CliPrefix(CliPrefix.None)>] Merge of ParseResults<ExperimentCommands.MergeRegistries.Args>
    | [<CliPrefix(CliPrefix.None)>] Ensemble of ParseResults<ExperimentCommands.Ensemble.Args>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Version -> "print the app version, the engine version and the commit it was built from"
            | Data _ -> "fetch or verify the MNIST files"
            | Train _ -> "train a network; ends with 'test accuracy NN.NN%'"
            | Eval _ -> "evaluate a saved model on the test set"
            | Predict _ -> "classify a PNG file or a test image"
            | Summary _ -> "layers, output shapes and parameter counts"
            | Bench _ -> "time training epochs (optionally against the PyTorch twin)"
            | Gradcheck _ -> "check every layer's, the loss's and whole networks' gradients numerically; exit 1 on a failure"
            | Serve _ -> "web page to draw digits, prediction API and runs dashboard"
            | Augment _ -> "the augmentation spec of some ranges; --show draws augmented training digits into a PNG"
            | Devices -> "the devices --device can name here: the CPU (model, vector width) and any GPU"
            | Export _ -> "write a saved model as a standard ONNX file (for ONNX Runtime, a browser or a phone)"
            | Sweep _ -> "run a sweep of experiments (skips finished runs, resumes interrupted ones)"
            | Runs _ -> "list runs from the results registry, best first"
            | Run _ -> "rerun one recorded experiment and check that its metrics match"
            | Report _ -> "regenerate a sweep's HTML reports"
            | Compare _ -> "two runs side by side"
            | Merge _ -> "fold other machines' (shards') registries into this one"
            | Ensemble _ -> "average several runs' or models' probabilities: evaluate each and the ensemble, save it for eval, predict and serve"

/// "mnist 1.1.0 (engine engine-3, commit 616f48cc23f0)": the SDK writes the commit after a '+'
/// in the informational version when it builds inside a git checkout.
let private versionText () =
    let informational =
        typeof<MnistArgs>.Assembly.GetCustomAttributes(typeof<System.Reflection.AssemblyInformationalVersionAttribute>, false)
        |> Array.tryHead
        |> Option.map (fun a -> (a :?> System.Reflection.AssemblyInformationalVersionAttribute).InformationalVersion)
        |> Option.defaultValue "0.0.0"
    let version, commit =
        match informational.Split('+', 2) with
        | [| v; sha |] -> v, (if sha.Length > 12 then sha.Substring(0, 12) else sha)
        | _ -> informational, "unknown"
    $"mnist {version} (engine {EngineVersion.Current}, commit {commit})"

let private printVersion () =
    printfn "%s" (versionText ())
    0

let private dispatch (args: ParseResults<MnistArgs>) =
    // --version is a flag, not a subcommand: GetSubCommand never returns it.
    if args.Contains Version then printVersion () else
    match args.GetSubCommand() with
    | Data a -> DataCommands.run a
    | Train a -> TrainCommand.run a
    | Eval a -> EvalCommand.run a
    | Predict a -> PredictCommand.run a
    | Summary a -> SummaryCommand.run a
    | Bench a -> BenchCommand.run a
    | Gradcheck a -> GradcheckCommand.run a
    | Serve a -> ServeCommand.run a
    | Augment a -> AugmentCommand.run a
    | Devices -> DevicesCommand.run ()
    | Export a -> ExportCommand.run a
    | Sweep a -> ExperimentCommands.Sweep.run a
    | Runs a -> ExperimentCommands.Runs.run a
    | Run a -> ExperimentCommands.Rerun.run a
    | Report a -> ExperimentCommands.Report.run a
    | Compare a -> ExperimentCommands.CompareRuns.run a
    | Merge a -> ExperimentCommands.MergeRegistries.run a
    | Ensemble a -> ExperimentCommands.Ensemble.run a
    | Version -> printVersion ()

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<MnistArgs>(programName = "mnist")
    try
        dispatch (parser.ParseCommandLine(argv, raiseOnUsage = true))
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e ->
        // Argu appends the whole usage; the first line says what is wrong.
        let commands = Reflection.FSharpType.GetUnionCases typeof<MnistArgs> |> Array.map (fun c -> c.Name.ToLowerInvariant())
        let command = argv |> Array.tryHead |> Option.filter (fun a -> Array.contains a commands)
        eprintfn "%s\nrun 'mnist %s--help' for the options" (e.Message.Split('\n')[0]) (command |> Option.map (sprintf "%s ") |> Option.defaultValue "")
        2
    | :? ArguException as e ->
        eprintfn "%s" e.Message
        2
    | :? MnistException as e ->
        eprintfn "error: %s" e.Message
        1
