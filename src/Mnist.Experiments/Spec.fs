namespace Mnist.Experiments

open System
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open Mnist.Core
open Mnist.Core.Augmentation
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
      Device: string option
      // The training tricks: None when off, so a spec without them has the id it always had.
      /// How training images are distorted: a name ("standard") or ranges ({"rotation": 10, ...}).
      Augmentation: AugmentationSpec option
      /// Label smoothing ε of the training loss (0: none).
      LabelSmoothing: float32 option
      /// Decay of the weight average that is evaluated and saved (0: none).
      Ema: float32 option
      /// Test-time augmentation of every evaluation ("shifts", "shifts9").
      TestTimeAugmentation: string option }

module ExperimentSpec =
    /// The default dataset name: canonical MNIST wherever it is found.
    [<Literal>]
    let Mnist = "mnist"

    /// The defaults of a spec naming this preset: the preset's recipe (Recipes.For), which for
    /// every preset but "best" is the engine's defaults (TrainingDefaults), as `mnist train` has them.
    let defaultsFor (preset: string) =
        let recipe = Recipes.For preset
        { Dataset = Mnist
          Preset = preset
          Width = TrainingDefaults.Width
          Activation = TrainingDefaults.Activation
          Optimizer = recipe.Optimizer
          LearningRate = recipe.LearningRate
          Schedule = recipe.Schedule
          BatchSize = recipe.BatchSize
          Epochs = recipe.Epochs
          Seed = recipe.Seed
          Limit = Option.ofNullable recipe.Limit
          Validation = recipe.ValidationCount
          Patience = Option.ofNullable recipe.Patience
          Device = None
          Augmentation = Option.ofObj recipe.Augmentation
          LabelSmoothing = (if recipe.LabelSmoothing = 0.0f then None else Some recipe.LabelSmoothing)
          Ema = Option.ofNullable recipe.Ema
          TestTimeAugmentation = Option.ofObj recipe.TestTimeAugmentation }

    /// The engine's own defaults (those of `mnist train`: TrainingDefaults, the classic preset's).
    let defaults = defaultsFor TrainingDefaults.Preset

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
            Device = Option.toObj spec.Device,
            // An explicit "off" (see normalize) is no trick at all.
            Augmentation = (spec.Augmentation |> Option.filter (fun a -> not (isNull (box a)) && not a.IsOff) |> Option.toObj),
            LabelSmoothing = Option.defaultValue 0.0f spec.LabelSmoothing,
            Ema = (spec.Ema |> Option.filter (fun d -> d <> 0.0f) |> Option.toNullable),
            TestTimeAugmentation = (spec.TestTimeAugmentation |> Option.filter (fun t -> t <> TestTimeAugmentation.None.Name) |> Option.toObj))

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
        let recipe = defaultsFor preset
        let offWhere (recipeValue: 'T option) (off: 'T) (value: 'T option) =
            match value, recipeValue with
            | None, Some _ -> Some off
            | _ -> value
        let normalized =
            { spec with
                Dataset = dataset
                Preset = preset
                Activation = Activations.Canonical(spec.Activation |> Option.ofObj |> Option.defaultValue "")
                Optimizer = spec.Optimizer.Resolve()
                Schedule = spec.Schedule.Resolve()
                // The kind alone ("cuda:1" trains as "cuda" does); the CPU as None.
                Device = spec.Device |> Option.map DeviceName.Parse |> Option.filter (fun d -> not d.IsCpu) |> Option.map (fun d -> d.Kind)
                // A trick that is off is left out, so the spec hashes as one that never named it;
                // but where the preset's recipe turns it on, "off" is written out (no augmentation,
                // 0, "none"), or reading the spec back would fill in the recipe's value.
                Augmentation =
                    spec.Augmentation
                    |> Option.filter (fun a -> not (isNull (box a)) && not (a.Validate().IsOff))
                    |> Option.map (fun a -> a.Canonical())
                    |> offWhere recipe.Augmentation AugmentationSpec.None
                LabelSmoothing = spec.LabelSmoothing |> Option.filter (fun e -> e <> 0.0f) |> offWhere recipe.LabelSmoothing 0.0f
                Ema = spec.Ema |> Option.filter (fun d -> d <> 0.0f) |> offWhere recipe.Ema 0.0f
                TestTimeAugmentation =
                    spec.TestTimeAugmentation
                    |> Option.map TestTimeAugmentation.Named
                    |> Option.filter (fun v -> not v.IsOff)
                    |> Option.map (fun v -> v.Name)
                    |> offWhere recipe.TestTimeAugmentation TestTimeAugmentation.None.Name }
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

    /// "optimizer": "adam" is short for "optimizer": {"name": "adam"} (likewise for schedule);
    /// "augmentation": "standard" for the named ranges.
    let private expandShorthand (key: string) (value: JsonNode) : JsonNode =
        match key, value with
        | ("optimizer" | "schedule"), (:? JsonValue as v) when v.GetValueKind() = JsonValueKind.String ->
            JsonObject([ Collections.Generic.KeyValuePair("name", JsonValue.Create(v.GetValue<string>()) :> JsonNode) ])
        | "augmentation", (:? JsonValue as v) when v.GetValueKind() = JsonValueKind.String ->
            JsonSerializer.SerializeToNode(AugmentationSpec.Named(v.GetValue<string>()), Json.options)
        | _ -> if isNull value then null else value.DeepClone()

    /// The field name as the spec spells it (keys are matched case-insensitively).
    let fieldName (key: string) =
        match fieldNames |> List.tryFind (fun f -> String.Equals(f, key, StringComparison.OrdinalIgnoreCase)) with
        | Some name -> name
        | None -> raise (MnistException $"""unknown spec field '{key}'; valid fields: {String.Join(", ", fieldNames)}""")

    /// A spec from JSON objects laid over the defaults of the preset they name (its recipe), later
    /// layers winning (a sweep's base, then one point of its grid). Unknown fields are errors.
    let ofLayers (layers: JsonObject seq) =
        let layers = Seq.toList layers
        let preset =
            layers
            |> List.collect (fun layer -> [ for KeyValue(key, value) in layer do if fieldName key = "preset" then yield value ])
            |> List.tryLast
            |> Option.bind (fun value ->
                match value with
                | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> Some(v.GetValue<string>())
                | _ -> None)
            |> Option.defaultValue TrainingDefaults.Preset
        let node = toNode (defaultsFor preset)
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

    /// A short human label: "classic×0.5 swish nesterov lr 0.05 b64 3ep", then the tricks that
    /// are on: "+aug", "+ls0.1", "+ema0.999", "+tta shifts".
    let label (spec: ExperimentSpec) =
        let text (value: float32) = value.ToString("G4", Globalization.CultureInfo.InvariantCulture)
        let width = if spec.Width = 1.0 then "" else "×" + spec.Width.ToString("G4", Globalization.CultureInfo.InvariantCulture)
        let device = spec.Device |> Option.map (sprintf " on %s") |> Option.defaultValue ""
        let tricks =
            [ match spec.Augmentation with Some a when a.IsOff -> " -aug" | Some _ -> " +aug" | None -> ()
              match spec.LabelSmoothing with Some 0.0f -> " -ls" | Some e -> $" +ls{text e}" | None -> ()
              match spec.Ema with Some 0.0f -> " -ema" | Some d -> $" +ema{text d}" | None -> ()
              match spec.TestTimeAugmentation with Some "none" -> " -tta" | Some t -> $" +tta {t}" | None -> () ]
            |> String.concat ""
        $"{spec.Preset}{width} {spec.Activation} {spec.Optimizer.Name} lr {text spec.LearningRate} b{spec.BatchSize} {spec.Epochs}ep{tricks}{device}"
