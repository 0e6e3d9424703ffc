/// The experiment commands: sweep, runs, run, report, compare, merge. Each is a thin shell over
/// Mnist.Experiments.
module Mnist.Cli.ExperimentCommands

open System
open System.IO
open System.Text.Json
open System.Threading
open Argu
open Mnist.Core
open Mnist.Experiments
open Mnist.Cli.Common

let private defaultResults = "results"
let private defaultExperiments = "experiments"

/// Console lines from several runner threads, one at a time.
let private printer = obj ()
let private say (line: string) = lock printer (fun () -> Console.Out.WriteLine line)

/// A token cancelled by the first Ctrl+C, so a run stops between batches and keeps its checkpoint.
let private cancelOnCtrlC () =
    let source = new CancellationTokenSource()
    Console.CancelKeyPress.Add(fun e ->
        if not source.IsCancellationRequested then
            e.Cancel <- true
            eprintfn "\nstopping after the current batch (Ctrl+C again to kill)..."
            source.Cancel())
    source.Token

let private accuracy = function Some (v: float) -> pct v | None -> "—"

let private registryUsage =
    "the registry: postgres://user[:password]@host[:port]/database, or an SQLite file (default: MNIST_REGISTRY, else <results>/runs.db)"

/// --registry, else MNIST_REGISTRY, else the results folder's runs.db.
let private locate (results: string) (given: string option) = RegistryLocation.Resolve(Option.toObj given, results)

/// A registry that must exist already (the commands that only read).
let private openExisting (results: string) (given: string option) = Registry.OpenExisting(locate results given, results)

/// `mnist sweep <name|file> [--parallel n] [--shard k/N]`
module Sweep =
    type Args =
        | [<MainCommand; ExactlyOnce>] Sweep of name_or_file: string
        | Parallel of runs: int
        | Shard of shard: string
        | Results of folder: string
        | Experiments of folder: string
        | Data_Dir of path: string
        | Registry of url: string
        | Device of device: string
        | No_Report
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Sweep _ -> "a sweep name (experiments/<name>.json) or a sweep file"
                | Device _ -> deviceUsage + "; every run's spec records the kind, so GPU runs get ids of their own"
                | Parallel _ -> "train this many runs at once (default 1; each already uses every core)"
                | Shard _ ->
                    "run only shard k of N (k/N): a deterministic slice for one machine or array task; "
                    + "auto: from a Slurm array task or a Kubernetes indexed job"
                | Registry _ -> registryUsage
                | Results _ -> "results folder (default results)"
                | Experiments _ -> "folder of sweep definitions (default experiments)"
                | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
                | No_Report -> "skip the HTML reports"

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let definition = Mnist.Experiments.Sweep.load (args.GetResult(Experiments, defaultExperiments)) (args.GetResult Sweep)
        // --device: the device opened now (a missing GPU fails here), its kind laid over the base spec.
        let definition =
            match args.TryGetResult Device with
            | Some device ->
                let basis = definition.Base.DeepClone().AsObject()
                basis["device"] <- Nodes.JsonValue.Create((openDevice (Some device)).Kind)
                { definition with Base = basis }
            | None -> definition
        let parallelRuns = args.GetResult(Parallel, 1)
        require (parallelRuns >= 1) $"--parallel must be at least 1, got {parallelRuns}"
        let shard = args.TryGetResult Shard |> Option.map Mnist.Experiments.Shard.parse |> Option.defaultValue Mnist.Experiments.Shard.All
        let options =
            { RunnerOptions.Defaults results with
                Registry = Some(locate results (args.TryGetResult Registry))
                DataDir = args.TryGetResult Data_Dir
                Parallel = parallelRuns
                Shard = shard
                Reports = not (args.Contains No_Report)
                Log = say
                Cancel = cancelOnCtrlC () }
        // A registry that cannot be used is one clear error before anything starts.
        let registry = Runner.openRegistry options
        let planned = Mnist.Experiments.Sweep.expand definition
        let shardText = if shard.Count > 1 then $", shard {shard}: {(Mnist.Experiments.Shard.select shard planned).Length} of them" else ""
        say $"sweep {definition.Name}: {planned.Length} runs{shardText}; results in {Path.Combine(results, definition.Name)}"
        let clock = Diagnostics.Stopwatch.StartNew()
        try
            let outcome = Runner.runSweep options definition
            let count f = outcome.Count f
            let failed = count (function Failed _ -> true | _ -> false)
            say (
                $"sweep {definition.Name}: {count ((=) Trained)} trained, {count ((=) AlreadyDone)} already complete"
                + (match count ((=) Adopted) with 0 -> "" | n -> $", {n} registered from disk")
                + (match count ((=) Busy) with 0 -> "" | n -> $", {n} busy in another process")
                + (if failed > 0 then $", {failed} FAILED" else "")
                + $" in {clock.Elapsed.TotalSeconds:F1} s")
            match Ranking.best (registry.Runs definition.Name) with
            | Some best ->
                let metric = Ranking.metricFor (registry.Runs definition.Name)
                say $"best run {best.Id}: {ExperimentSpec.label best.Spec}, {metric.Name} {pct (metric.Of best)}, test accuracy {accuracy best.FinalTestAccuracy}"
            | None -> ()
            if options.Reports then say $"report: {Layout.sweepReport results definition.Name}"
            say $"registry: {registry.Location}"
            if not outcome.Complete then say $"the sweep is not complete yet ({outcome.Planned} runs in all shards)"
            if failed > 0 then 1 else 0
        with :? OperationCanceledException ->
            eprintfn "interrupted: finished runs are filed; run the same command again to resume the rest"
            130

/// `mnist runs [--sweep s] [--top n] [--all]`
module Runs =
    type Args =
        | Sweep of name: string
        | Top of count: int
        | All
        | Results of folder: string
        | Registry of url: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Sweep _ -> "only this sweep's runs"
                | Top _ -> "only the best n"
                | All -> "also list the runs that have not finished (running, or interrupted and resumable)"
                | Results _ -> "results folder (default results)"
                | Registry _ -> registryUsage

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let registry = openExisting results (args.TryGetResult Registry)
        let rows = match args.TryGetResult Sweep with Some s -> registry.Runs s | None -> registry.Runs()
        let metric = Ranking.metricFor rows
        let ranked = Ranking.rank rows
        let shown =
            match args.TryGetResult Top with
            | Some n -> List.truncate n ranked
            | None -> ranked
        let unfinished = [ for r in rows do if not r.IsComplete then yield r, registry.StateOf r ]
        let header = $"""{"id",-12}  {"sweep",-10} {"status",-11}  {"model",-14} {"act",-9} {"optimizer",-10} {"lr",7} {"batch",5} {"ep",5}  {"val acc",8} {"test acc",8} {"time s",7}"""
        say header
        say (String('-', header.Length))
        let listed = [ for r in shown -> r, RunState.Complete ] @ (if args.Contains All then unfinished else [])
        for r, state in listed do
            let s = r.Spec
            let model = if s.Width = 1.0 then s.Preset else $"{s.Preset}×{s.Width}"
            let time = r.TrainSeconds |> Option.map (inv "F1") |> Option.defaultValue "—"
            let lr = inv "G4" (float s.LearningRate)
            let epochs = if r.IsComplete then string r.EpochsDone else $"{r.EpochsDone}/{s.Epochs}"
            say $"{r.Id,-12}  {r.Sweep,-10} {state.Name,-11}  {model,-14} {s.Activation,-9} {s.Optimizer.Name,-10} {lr,7} {s.BatchSize,5} {epochs,5}  {accuracy r.FinalValidationAccuracy,8} {accuracy r.FinalTestAccuracy,8} {time,7}"
        let states = RunState.Counts(List.map snd unfinished)
        say (
            $"{ranked.Length} complete run(s) in {registry.Location}, ranked by {metric.Name}"
            + (if states.IsEmpty then ""
               else
                   "; " + String.Join(", ", states)
                   + (if args.Contains All then "" else " (--all lists them)")
                   + (if unfinished |> List.exists (snd >> (=) RunState.Interrupted) then "; `mnist sweep <sweep>` or the dashboard resumes them" else "")))
        0

/// `mnist run <run-id>`
module Rerun =
    type Args =
        | [<MainCommand; ExactlyOnce>] Id of run_id: string
        | Results of folder: string
        | Registry of url: string
        | Data_Dir of path: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Id _ -> "the run's id (or enough of its start to be unique)"
                | Results _ -> "results folder (default results)"
                | Registry _ -> registryUsage
                | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let options =
            { RunnerOptions.Defaults results with
                Registry = Some(locate results (args.TryGetResult Registry))
                DataDir = args.TryGetResult Data_Dir
                Log = say
                Cancel = cancelOnCtrlC () }
        try
            let r = Reproduce.run options (args.GetResult Id) say
            say $"recorded final test accuracy {pct r.Recorded.Test.Accuracy}, reproduced {pct r.TestAccuracy}"
            if r.Matches then
                say $"metrics match exactly ({r.History.Length} epoch(s): losses, accuracies, learning rates, confusion matrix)"
                0
            else
                say $"metrics DIFFER in {r.Differences.Length} place(s):"
                for d in List.truncate 20 r.Differences do say $"  {d}"
                1
        with :? OperationCanceledException ->
            eprintfn "interrupted"
            130

/// `mnist report [<sweep>]`
module Report =
    type Args =
        | [<MainCommand>] Sweep of name: string
        | Results of folder: string
        | Registry of url: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Sweep _ -> "the sweep to report on (default: every sweep in the registry)"
                | Results _ -> "results folder (default results)"
                | Registry _ -> registryUsage

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let registry = openExisting results (args.TryGetResult Registry)
        let known = registry.Sweeps() |> List.map fst
        let sweeps =
            match args.TryGetResult Sweep with
            | Some name when List.contains name known -> [ name ]
            | Some name -> raise (MnistException $"""no sweep '{name}' in the registry (sweeps: {String.Join(", ", known)})""")
            | None -> known
        for sweep in sweeps do
            let rows = registry.Runs sweep |> List.filter (fun r -> r.IsComplete)
            for row in rows do
                Reports.RunReport.write results (Path.Combine(results, row.Folder)) |> ignore
            let page = Reports.SweepReport.write results registry sweep
            Runner.writeSummary results registry sweep |> ignore
            say $"{sweep}: {rows.Length} run report(s) and {page}"
        0

/// `mnist compare <id> <id>`
module CompareRuns =
    type Args =
        | [<MainCommand; ExactlyOnce>] Ids of first: string * second: string
        | Results of folder: string
        | Registry of url: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Ids _ -> "two run ids (or unique prefixes)"
                | Results _ -> "results folder (default results)"
                | Registry _ -> registryUsage

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let registry = openExisting results (args.TryGetResult Registry)
        let first, second = args.GetResult Ids
        say (Compare.render results (Reproduce.find registry first) (Reproduce.find registry second))
        0

/// `mnist merge <db>...`
module MergeRegistries =
    type Args =
        | [<MainCommand; ExactlyOnce>] Sources of registry: string list
        | Results of folder: string
        | Registry of url: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Sources _ -> "runs.db files (or results folders) from other machines; their run folders must sit beside them"
                | Results _ -> "the results folder merged into (default results)"
                | Registry _ -> "the registry merged into: " + registryUsage

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let registry = Registry.Open(locate results (args.TryGetResult Registry), results)
        let outcome = Merge.run registry results (args.GetResult Sources) say
        for sweep, _ in registry.Sweeps() do
            if Runner.writeSummary results registry sweep then say $"{sweep}: complete"
        say $"merged into {registry.Location}: {outcome.Imported} imported, {outcome.AlreadyPresent} already here, {outcome.Skipped.Length} skipped; `mnist report` redraws the reports"
        if outcome.Skipped.IsEmpty then 0 else 1

/// `mnist ensemble <run-id|model>... [--out folder]`
module Ensemble =
    open Mnist.Core.Evaluation
    open Mnist.Core.Inference
    open Mnist.Core.IO

    type Args =
        | [<MainCommand; ExactlyOnce>] Members of run_or_model: string list
        | Out of folder: string
        | Tta of name: string
        | Results of folder: string
        | Registry of url: string
        | Data_Dir of path: string
        | Test_Limit of count: int
        | Device of device: string
        interface IArgParserTemplate with
            member a.Usage =
                match a with
                | Members _ -> "the members: run ids (or unique prefixes) from the registry, or model files (.safetensors)"
                | Out _ -> "folder the ensemble is saved in: a model file per member and ensemble.json (default <results>/ensembles/<hash of the members>)"
                | Tta _ -> $"""test-time augmentation of the ensemble: {String.Join(", ", Mnist.Core.Augmentation.TestTimeAugmentation.Names)} (default none)"""
                | Results _ -> "results folder (default results)"
                | Registry _ -> registryUsage
                | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"
                | Test_Limit _ -> "evaluate on the first N test images only"
                | Device _ -> deviceUsage

    /// A member's model file and the run it came from: a file as given, else a run of the registry.
    let private resolve (results: string) (registry: Lazy<Registry>) (given: string) =
        if File.Exists given then given, None
        else
            let row = Reproduce.find registry.Value given
            let path = Path.Combine(results, row.Folder, Layout.ModelFile)
            if not (row.IsComplete && File.Exists path) then
                raise (MnistException $"run {row.Id} is {row.Status} and has no model file yet; finish it first (mnist sweep resumes it)")
            path, Some row.Id

    let private html (text: string) = Net.WebUtility.HtmlEncode text

    /// The ensemble's own report page: each member's test accuracy beside the ensemble's.
    let private report (manifest: EnsembleManifest) (ensembleAccuracy: float) (count: int) =
        let row (name: string) (run: string) (accuracy: float) =
            $"<tr><td>{html name}</td><td>{html run}</td><td>{pct accuracy}</td></tr>"
        let rows =
            [ for m in manifest.Members -> row m.File (Option.ofObj m.Run |> Option.defaultValue "—") m.TestAccuracy.Value ]
        let mean = manifest.Members |> Seq.averageBy (fun m -> m.TestAccuracy.Value)
        let tta = manifest.TestTimeAugmentation |> Option.ofObj |> Option.map (fun t -> $", test-time augmentation {html t}") |> Option.defaultValue ""
        $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Ensemble of {manifest.Members.Count}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}tfoot td{{font-weight:bold}}</style>
</head><body>
<h1>Ensemble of {manifest.Members.Count} models</h1>
<p>Probabilities averaged over the members{tta}; test accuracy on {count:N0} test images.</p>
<table><thead><tr><th>member</th><th>run</th><th>test accuracy</th></tr></thead>
<tbody>{String.concat "\n" rows}
<tr><td>members' mean</td><td></td><td>{pct mean}</td></tr></tbody>
<tfoot><tr><td>ensemble</td><td></td><td>{pct ensembleAccuracy}</td></tr></tfoot></table>
</body></html>
"""

    let run (args: ParseResults<Args>) =
        let results = args.GetResult(Results, defaultResults)
        let registry = lazy (openExisting results (args.TryGetResult Registry))
        let given = args.GetResult Members
        require (not given.IsEmpty) "name at least one member"
        require (given.Length <= EnsembleManifest.MaxMembers) $"at most {EnsembleManifest.MaxMembers} members, got {given.Length}"
        let members = given |> List.map (resolve results registry)
        let backend = openDevice (args.TryGetResult Device)
        let views = Mnist.Core.Augmentation.TestTimeAugmentation.Named(args.GetResult(Tta, "none"))
        let loaded =
            [ for path, _ in members ->
                  let file = ClassifierFile.Load(path, backend)
                  require (not file.IsEnsemble) $"{path} is an ensemble; members must be single models"
                  file.Models[0] ]
        let data = loadData (args.TryGetResult Data_Dir)
        let limit = args.TryGetResult Test_Limit
        limit |> Option.iter (fun n -> require (n >= 1) $"test limit must be at least 1, got {n}")
        let test = limit |> Option.map data.Test.Take |> Option.defaultValue data.Test
        let evaluator = Evaluator()
        let accuracies =
            [ for (path, run), model in List.zip members loaded ->
                  let accuracy = evaluator.Evaluate(Classifier([ ClassifierMember.Of model ], views), test).Accuracy
                  say $"""member {run |> Option.defaultValue path}: test accuracy {pct accuracy}"""
                  accuracy ]
        let ensemble = evaluator.Evaluate(Classifier([ for m in loaded -> ClassifierMember.Of m ], views), test)
        say $"ensemble of {loaded.Length}: test accuracy {pct ensemble.Accuracy} (members' mean {pct (List.average accuracies)}, best {pct (List.max accuracies)})"
        let out =
            match args.TryGetResult Out with
            | Some folder -> folder
            | None ->
                let key = String.Join("\n", [ for path, _ in members -> ClassifierFile.Sha256(File.ReadAllBytes path) ])
                Path.Combine(results, "ensembles", (ClassifierFile.Sha256(Text.Encoding.UTF8.GetBytes key)).Substring(0, 12))
        let tta = if views.IsOff then null else views.Name
        let manifest =
            ClassifierFile.SaveEnsemble(
                out,
                [ for (path, run), accuracy in List.zip members accuracies -> path, Option.toObj run, Nullable accuracy ],
                tta, Nullable ensemble.Accuracy, Nullable ensemble.Count)
        let reportPath = Path.Combine(out, "report.html")
        File.WriteAllText(reportPath, report manifest ensemble.Accuracy ensemble.Count)
        say $"saved {Path.Combine(out, EnsembleManifest.FileName)} and its report {reportPath}; `mnist eval --model {out}` evaluates it again"
        0
