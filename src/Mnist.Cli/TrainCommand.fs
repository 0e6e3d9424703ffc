/// `mnist train`: one training run from the command line.
module Mnist.Cli.TrainCommand

open System
open System.IO
open Argu
open Mnist.Core
open Mnist.Core.IO
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Core.Optim
open Mnist.Core.Training
open Mnist.Cli.Common

type TrainArgs =
    | Preset of name: string
    | Width of multiplier: float
    | Activation of name: string
    | Optimizer of name: string
    | Momentum of value: float32
    | Weight_Decay of value: float32
    | L2 of value: float32
    | Schedule of name: string
    | Lr of rate: float32
    | Batch_Size of size: int
    | Epochs of count: int
    | Seed of seed: uint64
    | Validation of count: int
    | Patience of epochs: int
    | Data_Dir of path: string
    | Limit of count: int
    | Test_Limit of count: int
    | Augment of name_or_json: string
    | Label_Smoothing of epsilon: float32
    | Ema of decay: float32
    | Tta of name: string
    | Device of device: string
    | Out of folder: string
    | Resume
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Preset _ -> $"""network preset: {String.concat ", " Presets.Names} (default {TrainingDefaults.Preset}); each trains with its own recipe unless the options below say otherwise"""
            | Width _ -> $"channel/width multiplier (default {TrainingDefaults.Width})"
            | Activation _ -> $"""activation: {String.concat ", " Activations.Names} (default {TrainingDefaults.Activation})"""
            | Optimizer _ -> $"""optimizer: {String.concat ", " OptimizerConfig.Names} (default {TrainingDefaults.Optimizer})"""
            | Momentum _ -> "momentum for momentum/nesterov/rmsprop (default 0.9 / 0)"
            | Weight_Decay _ -> "decoupled weight decay (default 0; adamw 0.01)"
            | L2 _ -> "L2 penalty added to the gradient (default 0)"
            | Schedule _ -> $"""learning-rate schedule: {String.concat ", " ScheduleConfig.Names} (default {TrainingDefaults.Schedule}, sized to the run)"""
            | Lr _ -> $"peak learning rate (default {TrainingDefaults.LearningRate})"
            | Batch_Size _ -> $"mini-batch size (default {TrainingDefaults.BatchSize})"
            | Epochs _ -> $"epochs (default {TrainingDefaults.Epochs})"
            | Seed _ -> $"random seed: weights, order, dropout (default {TrainingDefaults.Seed})"
            | Validation _ -> $"hold out this many training images for validation (default {TrainingDefaults.Validation})"
            | Patience _ -> "early stopping: epochs without better validation accuracy"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
            | Limit _ -> "train on the first N training images only"
            | Test_Limit _ -> "evaluate on the first N test images only"
            | Augment _ ->
                $"""augmentation of the training images: {String.concat ", " Augmentation.AugmentationSpec.Names}, or ranges as JSON, e.g. '{{"rotation": 15, "translate": 0.1}}' (default none; best: standard)"""
            | Label_Smoothing _ -> "label smoothing of the training loss, in [0, 1) (default 0; best: 0.1)"
            | Ema _ -> "evaluate and save an exponential moving average of the weights with this decay, in (0, 1); 0 turns it off (default off; best: 0.999)"
            | Tta _ -> $"""test-time augmentation of every evaluation: {String.concat ", " Augmentation.TestTimeAugmentation.Names} (default none)"""
            | Device _ -> deviceUsage
            | Out _ -> "output folder for model, checkpoint and metrics (default results/models/<preset>)"
            | Resume -> "continue from the folder's checkpoint after an interruption"

/// The model config and training spec the arguments describe (validated), for a run on
/// <paramref name="backend"/>: the preset's recipe, with what the options say instead.
let specOf (args: ParseResults<TrainArgs>) (backend: Backends.Backend) =
    let preset = args.GetResult(Preset, TrainingDefaults.Preset)
    let width = args.GetResult(Width, TrainingDefaults.Width)
    require (width > 0.0) $"width must be positive, got {width}"
    let config = Presets.Create(preset, width, args.GetResult(Activation, TrainingDefaults.Activation))
    let recipe = Recipes.For preset
    let given = recipe.Optimizer
    let optimizer =
        OptimizerConfig(
            args.GetResult(Optimizer, given.Name),
            Momentum = (args.TryGetResult Momentum |> Option.map Nullable |> Option.defaultValue given.Momentum),
            Beta1 = given.Beta1,
            Beta2 = given.Beta2,
            Eps = given.Eps,
            WeightDecay = (args.TryGetResult Weight_Decay |> Option.map Nullable |> Option.defaultValue given.WeightDecay),
            L1 = given.L1,
            L2 = args.GetResult(L2, given.L2))
    let spec =
        TrainingSpec(
            Epochs = args.GetResult(Epochs, recipe.Epochs),
            BatchSize = args.GetResult(Batch_Size, recipe.BatchSize),
            LearningRate = args.GetResult(Lr, recipe.LearningRate),
            Seed = args.GetResult(Seed, recipe.Seed),
            Optimizer = optimizer,
            Schedule = (args.TryGetResult Schedule |> Option.map (fun name -> ScheduleConfig(name)) |> Option.defaultValue recipe.Schedule),
            ValidationCount = args.GetResult(Validation, recipe.ValidationCount),
            Limit = Option.toNullable (args.TryGetResult Limit),
            Patience = Option.toNullable (args.TryGetResult Patience),
            TestLimit = Option.toNullable (args.TryGetResult Test_Limit),
            Device = TrainingSpec.DeviceOf backend,
            Augmentation =
                (match args.TryGetResult Augment with
                 | Some text -> Augmentation.AugmentationSpec.Parse text |> fun a -> if a.IsOff then null else a.Canonical()
                 | None -> recipe.Augmentation),
            LabelSmoothing = args.GetResult(Label_Smoothing, recipe.LabelSmoothing),
            Ema =
                (match args.TryGetResult Ema with
                 | Some 0.0f -> System.Nullable()
                 | Some decay -> System.Nullable decay
                 | None -> recipe.Ema),
            TestTimeAugmentation =
                (match args.TryGetResult Tta with
                 | Some name -> (match Augmentation.TestTimeAugmentation.Named name with v when v.IsOff -> null | v -> v.Name)
                 | None -> recipe.TestTimeAugmentation))
    preset, config, spec.Validate()

/// "augmentation rotation=10, scale=0.1, ..., label smoothing 0.1, ema 0.999": the tricks a spec turns on, for its first line.
let describeTricks (spec: TrainingSpec) =
    [ if not (isNull spec.Augmentation) then $"augmentation {spec.Augmentation}"
      if spec.LabelSmoothing > 0.0f then "label smoothing " + inv "G4" (float spec.LabelSmoothing)
      if spec.Ema.HasValue then "ema " + inv "G4" (float spec.Ema.Value)
      if not (isNull spec.TestTimeAugmentation) then $"tta {spec.TestTimeAugmentation}" ]
    |> List.map (fun t -> " | " + t)
    |> String.concat ""

let run (args: ParseResults<TrainArgs>) =
    let backend = openDevice (args.TryGetResult Device)
    let preset, config, spec = specOf args backend
    let outDir = args.GetResult(Out, Path.Combine("results", "models", preset))
    Directory.CreateDirectory outDir |> ignore
    let checkpoint = Path.Combine(outDir, "checkpoint.safetensors")
    let resume = args.Contains Resume
    if not resume && File.Exists checkpoint then File.Delete checkpoint
    let data = loadData (args.TryGetResult Data_Dir)
    let summary = ModelSummary.Of config
    printfn "model %s: %s parameters | %s, lr %s, %s schedule, batch %d, %d epoch(s), seed %d%s | %s"
        preset (summary.TotalParameters.ToString "N0") spec.Optimizer.Name (inv "G4" (float spec.LearningRate))
        spec.Schedule.Name spec.BatchSize spec.Epochs spec.Seed (describeTricks spec) backend.Name
    let bar = ProgressBar()
    let callbacks =
        TrainingCallbacks(
            Batch = (fun p -> bar.Update p),
            Epoch = (fun m -> bar.Finish(); printfn "%s" (describeEpoch m)),
            Log = (fun line -> printfn "%s" line))
    let result = Trainer(config, spec, backend).Run(data, callbacks, checkpoint, resume)
    let modelPath = Path.Combine(outDir, "model.safetensors")
    ModelFile.Save(modelPath, result.Network, result.Config, result.Normalization, extraMetadata = RunMetadata.Of(result, spec))
    let metrics = {| history = result.History; test = EvaluationSummary.Of result.Test |}
    File.WriteAllText(Path.Combine(outDir, "metrics.json"), System.Text.Json.JsonSerializer.Serialize(metrics, RunMetadata.Json))
    printfn "saved %s" modelPath
    printfn "test accuracy %s" (pct result.Test.Accuracy)
    0
