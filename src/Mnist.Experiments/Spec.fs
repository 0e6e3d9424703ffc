namespace Mnist.Experiments

open System
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open Mnist.Core
open Mnist.Core.Backends
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Core.Optim
open Mnist.Core.Training

/// Everything that determines a run's numbers. Stored as spec.json beside the run's results and
/// hashed (canonical JSON + engine version) into the run's id.
type ExperimentSpec =
    { /// "mnist" (the canonical files, from --data-dir, MNIST_DATA or the cache) or a folder path.
      Dataset: string
      Preset: string
      /// Channel and hidden-width multiplier of the preset.
      Width: float
      Activation: string
      Optimizer: OptimizerConfig
      /// Peak learning rate (the constant one for a constant schedule).
      LearningRate: float32
      Schedule: ScheduleConfig
      BatchSize: int
      Epochs: int
      Seed: uint64
      /// Train on the first N training images only.
      Limit: int option
      /// Images held out from the end of the (limited) training set for validation.
      Validation: int
      /// Early stopping after this many epochs without a better validation accuracy.
      Patience: int option
      /// The device kind ("cuda", "ilgpu-cpu"); None for the CPU, so a CPU run's spec and id are
      /// what they were before devices existed, and a GPU run never shares a CPU run's id.
      Device: string option }

module ExperimentSpec =
    /// The default dataset name: canonical MNIST wherever it is found.
    [<Literal>]
    let Mnist = "mnist"

    /// The engine's own defaults (those of `mnist train`: TrainingDefaults).
    let defaults =
        { Dataset = Mnist
          Preset = TrainingDefaults.Preset
          Width = TrainingDefaults.Width
          Activation = TrainingDefaults.Activation
          Optimizer = OptimizerConfig(TrainingDefaults.Optimizer)
          LearningRate = TrainingDefaults.LearningRate
          Schedule = ScheduleConfig(TrainingDefaults.Schedule)
          BatchSize = TrainingDefaults.BatchSize
          Epochs = TrainingDefaults.Epochs
          Seed = TrainingDefaults.Seed
          Limit = None
          Validation = TrainingDefaults.Validation
          Patience = None
          Device = None }

    let trainingSpec (spec: ExperimentSpec) =
        TrainingSpec(
            Epochs = spec.Epochs,
            BatchSize = spec.BatchSize,
            LearningRate = spec.LearningRate,
            Seed = spec.Seed,
            Optimizer = spec.Optimizer,
            Schedule = spec.Schedule,
            ValidationCount = spec.Validation,
            Limit = Option.toNullable spec.Limit,
            Patience = Option.toNullable spec.Patience,
            Device = Option.toObj spec.Device)

    /// The device kind the run trains on, "cpu" included.
    let deviceKind (spec: ExperimentSpec) = spec.Device |> Option.defaultValue DeviceName.Cpu

    let modelConfig (spec: ExperimentSpec) = Presets.Create(spec.Preset, spec.Width, spec.Activation)

    /// The spec in canonical form: names canonical, optimizer and schedule defaults filled in
    /// (so leaving a default out and writing it give the same id). Throws MnistException naming
    /// the first bad setting.
    let normalize (spec: ExperimentSpec) =
        let dataset =
            match spec.Dataset with
            | null -> raise (MnistException "dataset must be \"mnist\" or a folder")
            | d when d.Trim().ToLowerInvariant() = Mnist -> Mnist
            | d -> d.Trim()
        if String.IsNullOrWhiteSpace dataset then raise (MnistException "dataset must be \"mnist\" or a folder")
        let preset = (spec.Preset |> Option.ofObj |> Option.defaultValue "").Trim().ToLowerInvariant()
        if not (Presets.Names |> Seq.contains preset) then
            raise (MnistException $"""unknown model preset '{spec.Preset}'; valid presets: {String.Join(", ", Presets.Names)}""")
        if not (spec.Width > 0.0 && Double.IsFinite spec.Width) then
            raise (MnistException $"width must be a positive number, got {spec.Width}")
        if isNull (box spec.Optimizer) then raise (MnistException "optimizer is missing")
        if isNull (box spec.Schedule) then raise (MnistException "schedule is missing")
        let normalized =
            { spec with
                Dataset = dataset
                Preset = preset
                Activation = Activations.Canonical(spec.Activation |> Option.ofObj |> Option.defaultValue "")
                Optimizer = spec.Optimizer.Resolve()
                Schedule = spec.Schedule.Resolve()
                // The kind alone ("cuda:1" trains as "cuda" does); the CPU as None.
                Device = spec.Device |> Option.map DeviceName.Parse |> Option.filter (fun d -> not d.IsCpu) |> Option.map (fun d -> d.Kind) }
        (trainingSpec normalized).Validate() |> ignore
        normalized

    let toNode (spec: ExperimentSpec) : JsonObject = JsonSerializer.SerializeToNode(spec, Json.options).AsObject()

    /// The canonical JSON text of the normalized spec: what the run id hashes.
    let canonicalJson (spec: ExperimentSpec) = Json.canonical (toNode (normalize spec))

    /// 12 hex digits of SHA-256 over the canonical spec and the engine version.
    let runIdFor (engineVersion: string) (spec: ExperimentSpec) =
        let text = canonicalJson spec + "\n" + engineVersion
        let hash = SHA256.HashData(Encoding.UTF8.GetBytes text)
        Convert.ToHexString(hash).ToLowerInvariant().Substring(0, 12)

    /// The run id under this build's engine (<see cref="EngineVersion.Current"/>).
    let runId (spec: ExperimentSpec) = runIdFor EngineVersion.Current spec

    /// The JSON field names a spec accepts.
    let fieldNames =
        Microsoft.FSharp.Reflection.FSharpType.GetRecordFields(typeof<ExperimentSpec>)
        |> Seq.map (fun p -> JsonNamingPolicy.CamelCase.ConvertName p.Name)
        |> Seq.toList

    /// "optimizer": "adam" is short for "optimizer": {"name": "adam"} (likewise for schedule).
    let private expandShorthand (key: string) (value: JsonNode) : JsonNode =
        match key, value with
        | ("optimizer" | "schedule"), (:? JsonValue as v) when v.GetValueKind() = JsonValueKind.String ->
            JsonObject([ Collections.Generic.KeyValuePair("name", JsonValue.Create(v.GetValue<string>()) :> JsonNode) ])
        | _ -> if isNull value then null else value.DeepClone()

    /// The field name as the spec spells it (keys are matched case-insensitively).
    let fieldName (key: string) =
        match fieldNames |> List.tryFind (fun f -> String.Equals(f, key, StringComparison.OrdinalIgnoreCase)) with
        | Some name -> name
        | None -> raise (MnistException $"""unknown spec field '{key}'; valid fields: {String.Join(", ", fieldNames)}""")

    /// A spec from JSON objects laid over the defaults, later layers winning (a sweep's base, then
    /// one point of its grid). Unknown fields are errors.
    let ofLayers (layers: JsonObject seq) =
        let node = toNode defaults
        for layer in layers do
            for KeyValue(key, value) in layer |> Seq.toList do
                let name = fieldName key
                node[name] <- expandShorthand name value
        try
            match node.Deserialize<ExperimentSpec>(Json.options) with
            | spec when isNull (box spec) -> raise (MnistException "empty experiment spec")
            | spec -> normalize spec
        with
        | :? JsonException as e -> raise (MnistException($"invalid experiment spec: {e.Message}", e))
        | :? NotSupportedException as e -> raise (MnistException($"invalid experiment spec: {e.Message}", e))

    let ofJson (text: string) =
        let node =
            try Json.parseFile text false with :? JsonException as e -> raise (MnistException($"invalid experiment spec: {e.Message}", e))
        match node with
        | :? JsonObject as o -> ofLayers [ o ]
        | _ -> raise (MnistException "an experiment spec must be a JSON object")

    let toJson (spec: ExperimentSpec) = Json.serialize spec

    /// A short human label: "classic×0.5 swish nesterov lr 0.05 b64 3ep".
    let label (spec: ExperimentSpec) =
        let width = if spec.Width = 1.0 then "" else "×" + spec.Width.ToString("G4", Globalization.CultureInfo.InvariantCulture)
        let lr = spec.LearningRate.ToString("G4", Globalization.CultureInfo.InvariantCulture)
        let device = spec.Device |> Option.map (sprintf " on %s") |> Option.defaultValue ""
        $"{spec.Preset}{width} {spec.Activation} {spec.Optimizer.Name} lr {lr} b{spec.BatchSize} {spec.Epochs}ep{device}"
