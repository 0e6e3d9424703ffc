namespace Mnist.Experiments

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open System.Text.RegularExpressions
open Mnist.Core

/// A sweep as written in experiments/<name>.json:
/// { "name": "quick", "description": "...", "base": { spec fields },
///   "grid": { "learningRate": [0.02, 0.05], "batchSize": [32, 128], ... } }
/// "grid" may also be a list of grids; the sweep is the union of their products (so each
/// optimizer can get learning rates that suit it). Any spec field can be a grid axis.
type SweepDefinition =
    { Name: string
      Description: string
      Base: JsonObject
      Grids: JsonObject list
      /// The definition's text, kept in the registry so reports work without the file.
      Text: string }

/// One run of a sweep: its place in the expansion, its id and spec.
type SweepRun = { Position: int; Id: string; Spec: ExperimentSpec }

/// A deterministic slice of a sweep: shard K of N (1-based) holds the runs whose position modulo
/// N is K-1, so shards are disjoint, balanced, and together make the whole sweep.
type Shard =
    { Index: int; Count: int }
    static member All = { Index = 1; Count = 1 }
    override s.ToString() = $"{s.Index}/{s.Count}"

module Shard =
    /// The variable that gives the number of shards to an array task or indexed job (Slurm's
    /// SLURM_ARRAY_TASK_COUNT counts only the tasks of one submission, which a resubmitted task
    /// would get wrong; Kubernetes gives no count at all).
    [<Literal>]
    let CountVariable = "MNIST_SHARD_COUNT"

    /// The shard of this array task or indexed job: the 0-based index from SLURM_ARRAY_TASK_ID or
    /// Kubernetes' JOB_COMPLETION_INDEX, the count from MNIST_SHARD_COUNT, else
    /// SLURM_ARRAY_TASK_COUNT.
    let fromEnvironment (variable: string -> string) =
        let value name = match variable name with null | "" -> None | v -> Some(v.Trim())
        let number name (text: string) =
            match Int32.TryParse text with
            | true, n -> n
            | _ -> raise (MnistException $"--shard auto: {name} is '{text}', not a number")
        let index =
            match value "SLURM_ARRAY_TASK_ID", value "JOB_COMPLETION_INDEX" with
            | Some id, _ -> "SLURM_ARRAY_TASK_ID", number "SLURM_ARRAY_TASK_ID" id
            | None, Some id -> "JOB_COMPLETION_INDEX", number "JOB_COMPLETION_INDEX" id
            | None, None ->
                raise (MnistException "--shard auto needs SLURM_ARRAY_TASK_ID (a Slurm array task) or JOB_COMPLETION_INDEX (a Kubernetes indexed job)")
        let count =
            match value CountVariable, value "SLURM_ARRAY_TASK_COUNT" with
            | Some n, _ -> number CountVariable n
            | None, Some n when fst index = "SLURM_ARRAY_TASK_ID" -> number "SLURM_ARRAY_TASK_COUNT" n
            | _ -> raise (MnistException $"--shard auto: set {CountVariable} to the number of tasks (the job's completions)")
        match index with
        | _, k when count >= 1 && k >= 0 && k < count -> { Index = k + 1; Count = count }
        | name, k -> raise (MnistException $"--shard auto: {name} is {k}, outside 0..{count - 1} for {count} shard(s) (set {CountVariable} to the task count)")

    /// "k/N" with 1 ≤ k ≤ N, or "auto" (see fromEnvironment).
    let parse (text: string) =
        let m = Regex.Match(text.Trim(), @"^(\d+)\s*/\s*(\d+)$")
        let fail () = raise (MnistException $"shard must be k/N with 1 ≤ k ≤ N (like 2/4), or auto, got '{text}'")
        if text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase) then fromEnvironment Environment.GetEnvironmentVariable
        elif not m.Success then fail ()
        else
            match Int32.TryParse m.Groups[1].Value, Int32.TryParse m.Groups[2].Value with
            | (true, k), (true, n) when n >= 1 && k >= 1 && k <= n -> { Index = k; Count = n }
            | _ -> fail ()

    let contains (shard: Shard) (run: SweepRun) = run.Position % shard.Count = shard.Index - 1

    let select (shard: Shard) (runs: SweepRun list) = runs |> List.filter (contains shard)

module Sweep =
    let private validName = Regex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$")

    let checkName (name: string) =
        if isNull name || not (validName.IsMatch name) then
            raise (MnistException $"sweep name '{name}' must be letters, digits, '.', '_' or '-' (it names a results folder)")
        name

    /// Parses a definition; <paramref name="fallbackName"/> names it when it has no "name".
    let parse (fallbackName: string) (text: string) =
        let root =
            try Json.parseFile text true
            with :? JsonException as e -> raise (MnistException($"sweep '{fallbackName}': invalid JSON: {e.Message}", e))
        let root =
            match root with
            | :? JsonObject as o -> o
            | _ -> raise (MnistException $"sweep '{fallbackName}': the definition must be a JSON object")
        let allowed = set [ "name"; "description"; "base"; "grid" ]
        for KeyValue(key, _) in root do
            if not (allowed.Contains key) then
                raise (MnistException $"sweep '{fallbackName}': unknown field '{key}' (fields: name, description, base, grid)")
        let str (key: string) = match root[key] with :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> Some(v.GetValue<string>()) | _ -> None
        let object what (node: JsonNode) =
            match node with
            | :? JsonObject as o -> o.DeepClone().AsObject()
            | _ -> raise (MnistException $"sweep '{fallbackName}': {what} must be a JSON object")
        let grids =
            match root["grid"] with
            | null -> [ JsonObject() ]
            | :? JsonArray as list when list.Count > 0 -> [ for g in list -> object "each grid" g ]
            | :? JsonArray -> raise (MnistException $"sweep '{fallbackName}': grid list is empty")
            | node -> [ object "grid" node ]
        { Name = checkName (str "name" |> Option.defaultValue fallbackName)
          Description = str "description" |> Option.defaultValue ""
          Base = (match root["base"] with null -> JsonObject() | node -> object "base" node)
          Grids = grids
          Text = text }

    /// The sweeps shipped inside this assembly (experiments/*.json at build time), by name.
    let private shipped =
        lazy
            (let assembly = typeof<SweepDefinition>.Assembly
             assembly.GetManifestResourceNames()
             |> Array.filter (fun n -> n.StartsWith("sweeps/", StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
             |> Array.map (fun n ->
                 use reader = new IO.StreamReader(assembly.GetManifestResourceStream n)
                 n.Substring("sweeps/".Length).Replace(".json", ""), reader.ReadToEnd())
             |> Map.ofArray)

    /// A sweep by path to a .json file, or by name: experiments/<name>.json in the given folder,
    /// else the sweep of that name shipped with the program.
    let load (experimentsDir: string) (nameOrFile: string) =
        let isPath = nameOrFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || nameOrFile.Contains '/' || nameOrFile.Contains '\\'
        let path = if isPath then nameOrFile else Path.Combine(experimentsDir, nameOrFile + ".json")
        match File.Exists path, shipped.Value.TryFind nameOrFile with
        | true, _ -> parse (Path.GetFileNameWithoutExtension path) (File.ReadAllText path)
        | false, Some text when not isPath -> parse nameOrFile text
        | false, _ ->
            let local =
                if Directory.Exists experimentsDir then Directory.GetFiles(experimentsDir, "*.json") |> Array.map Path.GetFileNameWithoutExtension
                else [||]
            let known = Seq.append local shipped.Value.Keys |> Seq.distinct |> Seq.sort |> String.concat ", "
            raise (MnistException($"sweep not found: {path}" + (if known = "" then "" else $" (known sweeps: {known})")))

    /// The most points a sweep may have (a typo in a grid must not try to build billions).
    [<Literal>]
    let MaxPoints = 10000

    /// A grid's axes: (spec field, values) in order.
    let private axes (sweepName: string) (grid: JsonObject) =
        [ for KeyValue(key, value) in grid ->
              let name = ExperimentSpec.fieldName key
              match value with
              | :? JsonArray as values when values.Count = 0 ->
                  raise (MnistException $"sweep '{sweepName}': axis '{key}' has no values")
              | :? JsonArray as values -> name, [ for v in values -> v ]
              | single -> name, [ single ] ]

    /// The points of one grid in order, the last axis varying fastest (as nested loops would).
    let private points (axes: (string * JsonNode list) list) : JsonObject list =
        let rec product axes =
            match axes with
            | [] -> [ [] ]
            | (name, values) :: rest ->
                [ for v in values do
                      for tail in product rest -> (name, v) :: tail ]
        [ for assignment in product axes ->
              let point = JsonObject()
              for name, value in assignment do
                  point[name] <- (if isNull value then null else value.DeepClone())
              point ]

    /// Every run of the sweep, in order, each spec once (a point that repeats an earlier one is dropped).
    let expand (sweep: SweepDefinition) : SweepRun list =
        let grids = [ for grid in sweep.Grids -> axes sweep.Name grid ]
        let count = grids |> List.sumBy (fun axes -> axes |> List.fold (fun n (_, values) -> min (n * int64 values.Length) (int64 MaxPoints + 1L)) 1L)
        if count > int64 MaxPoints then
            raise (MnistException $"sweep '{sweep.Name}' has more than {MaxPoints} points; split it into smaller sweeps")
        let seen = Collections.Generic.HashSet<string>()
        [ for axes in grids do
              for point in points axes do
                  let spec =
                      try ExperimentSpec.ofLayers [ sweep.Base; point ]
                      with :? MnistException as e -> raise (MnistException($"sweep '{sweep.Name}', point {point.ToJsonString()}: {e.Message}", e))
                  let id = ExperimentSpec.runId spec
                  if seen.Add id then yield spec, id ]
        |> List.mapi (fun position (spec, id) -> { Position = position; Id = id; Spec = spec })
