namespace Mnist.Experiments

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.IO
open System.Threading
open System.Threading.Tasks
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.IO
open Mnist.Core.Models
open Mnist.Core.Training

/// How a sweep is run.
type RunnerOptions =
    { /// The results folder (runs.db, plotly.min.js, one folder per sweep).
      Results: string
      /// The registry, when not the results folder's runs.db (a team's PostgreSQL server).
      Registry: RegistryLocation option
      /// Where the "mnist" dataset comes from (else MNIST_DATA, else the per-user cache).
      DataDir: string option
      /// Runs trained at the same time (each still uses every core in its GEMMs).
      Parallel: int
      Shard: Shard
      /// Write the run reports and the sweep report.
      Reports: bool
      /// One line of progress; called from several threads with --parallel.
      Log: string -> unit
      /// Replaces dataset loading (tests give a small in-memory dataset).
      LoadData: (string -> MnistDataset) option
      Cancel: CancellationToken
      /// Extra callbacks for a host that follows one run live (the web dashboard): its Batch and
      /// Epoch are called beside the runner's own. Shared by every run of a parallel sweep.
      Observer: TrainingCallbacks option }

    member o.RegistryLocation = o.Registry |> Option.defaultWith (fun () -> RegistryLocation.InResults o.Results)

    static member Defaults(results: string) =
        { Results = results
          Registry = None
          DataDir = None
          Parallel = 1
          Shard = Shard.All
          Reports = true
          Log = ignore
          LoadData = None
          Cancel = CancellationToken.None
          Observer = None }

/// What happened to one run.
type RunOutcome =
    | Trained
    | AlreadyDone
    /// A finished folder the registry did not know yet (a kill between rename and commit, or a copy).
    | Adopted
    /// Another process holds the run's lock and is training it.
    | Busy
    | Failed of string

type SweepOutcome =
    { Sweep: string
      Planned: int
      Selected: int
      Outcomes: (SweepRun * RunOutcome) list
      /// Every run of the whole sweep (all shards) is complete in the registry.
      Complete: bool }
    member o.Count(f: RunOutcome -> bool) = o.Outcomes |> List.filter (snd >> f) |> List.length

/// Trains runs through Mnist.Core and files the results so that nothing claims to be finished
/// before it is: a run trains in results/.partial/<id>/ (with the engine's per-epoch checkpoint,
/// so a restart loses at most the epoch in progress), its folder is renamed into
/// results/<sweep>/<id>/ once every file is written, and only then is its registry row marked
/// complete, in one transaction.
module Runner =
    let private datasets = ConcurrentDictionary<string, Lazy<MnistDataset>>()

    /// The dataset a spec names, loaded once per process.
    let loadDataset (options: RunnerOptions) (dataset: string) =
        match options.LoadData with
        | Some load -> load dataset
        | None ->
            let key = if dataset = ExperimentSpec.Mnist then "mnist:" + (options.DataDir |> Option.defaultValue "") else Path.GetFullPath dataset
            let load () =
                if dataset = ExperimentSpec.Mnist then
                    MnistSource.Load(DataOptions.FromEnvironment(Option.toObj options.DataDir, options.Log))
                else MnistDataset.Load dataset
            let entry = datasets.GetOrAdd(key, fun _ -> lazy (load ()))
            try entry.Value
            with _ ->
                datasets.TryRemove key |> ignore
                reraise ()

    /// The registry the options name, opened for writing (its tables created when missing).
    let openRegistry (options: RunnerOptions) = Registry.Open(options.RegistryLocation, options.Results)

    /// The run's finished folder if the registry or the sweep folder has one.
    let private finishedFolder (options: RunnerOptions) (registry: Registry) (sweep: string) (id: string) =
        match registry.TryGet id with
        | Some row when row.IsComplete && Layout.isFinished (Path.Combine(options.Results, row.Folder)) -> Some(row, true)
        | row ->
            let dir = Layout.runDir options.Results sweep id
            if Layout.isFinished dir then
                let metrics = RunFiles.readMetrics dir
                registry.Complete(metrics, Files.relative options.Results dir)
                registry.TryGet id |> Option.map (fun r -> r, false)
            else
                match row with
                | Some r when r.IsComplete ->
                    options.Log $"{id}: the registry lists it as complete but {r.Folder} is missing; training it again"
                | _ -> ()
                None

    let private writeRunReport (options: RunnerOptions) (row: RunRow) =
        if options.Reports then
            try Reports.RunReport.write options.Results (Path.Combine(options.Results, row.Folder)) |> ignore
            with e -> options.Log $"{row.Id}: could not write its report: {e.Message}"

    /// Moves a finished work folder to its place and marks the run complete (in that order).
    let private publish (options: RunnerOptions) (registry: Registry) (work: string) (finalDir: string) (metrics: RunMetrics) =
        Directory.CreateDirectory(Path.GetDirectoryName finalDir) |> ignore
        if Directory.Exists finalDir then Directory.Delete(finalDir, true) // never a finished one: that was checked under the lock
        Directory.Move(work, finalDir)
        registry.Complete(metrics, Files.relative options.Results finalDir)
        registry.TryGet metrics.Id |> Option.iter (writeRunReport options)

    /// Trains one run in its work folder (resuming its checkpoint if a previous attempt was
    /// killed) and files it.
    let private trainAndPublish (options: RunnerOptions) (registry: Registry) (sweep: string) (run: SweepRun) (say: string -> unit) =
        let results = options.Results
        let work = Layout.workDir results run.Id
        let finalDir = Layout.runDir results sweep run.Id
        Directory.CreateDirectory work |> ignore
        let specPath = Path.Combine(work, Layout.SpecFile)
        if not (File.Exists specPath) then
            Files.writeAllTextAtomic specPath (Json.serialize { RunSpecFile.Id = run.Id; Engine = EngineVersion.Current; Spec = run.Spec })
        let config = ExperimentSpec.modelConfig run.Spec
        let trainingSpec = ExperimentSpec.trainingSpec run.Spec
        let parameters = (ModelSummary.Of config).TotalParameters
        registry.MarkRunning(run.Id, sweep, Files.relative results finalDir, run.Spec, EngineVersion.Current, parameters)
        let checkpoint = Path.Combine(work, Layout.CheckpointFile)
        let epochsPath = Path.Combine(work, Layout.EpochsFile)
        let resume = File.Exists checkpoint
        let result, wall =
            use log = new StreamWriter(Path.Combine(work, Layout.LogFile), true)
            let line (text: string) =
                lock log (fun () ->
                    log.WriteLine($"{DateTime.UtcNow:``yyyy-MM-ddTHH:mm:ssZ``} {text}")
                    log.Flush())
                say text
            line $"{ExperimentSpec.label run.Spec} ({parameters:N0} parameters, engine {EngineVersion.Current})"
            let data = loadDataset options run.Spec.Dataset
            let observer = options.Observer |> Option.toObj
            let callbacks =
                TrainingCallbacks(
                    Batch = (if isNull observer then null else observer.Batch),
                    Epoch =
                        (fun m ->
                            File.AppendAllText(epochsPath, Text.Json.JsonSerializer.Serialize(m, RunMetadata.Json) + "\n")
                            registry.RecordEpoch(run.Id, m)
                            line (
                                $"epoch {m.Epoch}/{run.Spec.Epochs}: train loss {m.TrainLoss:F4} acc {100.0 * m.TrainAccuracy:F2}%%"
                                + (if m.ValidationAccuracy.HasValue then $" | val acc {100.0 * m.ValidationAccuracy.Value:F2}%%" else "")
                                + $" | test acc {100.0 * m.TestAccuracy:F2}%% | {m.Seconds:F1} s, {m.ImagesPerSecond:F0} img/s")
                            if not (isNull observer || isNull observer.Epoch) then observer.Epoch.Invoke m),
                    Log = line)
            let clock = Stopwatch.StartNew()
            let result = Trainer(config, trainingSpec).Run(data, callbacks, checkpoint, resume, options.Cancel)
            let wall = clock.Elapsed.TotalSeconds
            ModelFile.Save(Path.Combine(work, Layout.ModelFile), result.Network, result.Config, result.Normalization,
                extraMetadata = RunMetadata.Of(result, trainingSpec))
            Files.writeAllTextAtomic (Path.Combine(work, Layout.MistakesFile))
                (Json.serializeCompact (RunFiles.mistakeImages data.Test result.Test.WorstMistakes))
            // The live stream may lack an epoch a kill interrupted; the final copy comes from the history.
            Files.writeAllTextAtomic epochsPath
                (String.Join("", result.History |> Seq.map (fun m -> Text.Json.JsonSerializer.Serialize(m, RunMetadata.Json) + "\n")))
            line $"test accuracy {100.0 * result.Test.Accuracy:F2}%% after {result.History.Count} epoch(s), {wall:F1} s"
            result, wall
        let metrics =
            { Id = run.Id
              Engine = EngineVersion.Current
              Sweep = sweep
              Spec = run.Spec
              Parameters = parameters
              History = Seq.toArray result.History
              Test = EvaluationSummary.Of result.Test
              StoppedEarly = result.StoppedEarly
              TrainSeconds = result.History |> Seq.sumBy (fun m -> m.Seconds)
              WallSeconds = wall
              FinishedAt = DateTimeOffset.UtcNow
              Host = Environment.MachineName }
        // metrics.json is written last: a folder holding it is a finished run.
        Files.writeAllTextAtomic (Path.Combine(work, Layout.MetricsFile)) (Json.serialize metrics)
        File.Delete checkpoint
        publish options registry work finalDir metrics

    let private train (options: RunnerOptions) (registry: Registry) (sweep: string) (run: SweepRun) (say: string -> unit) =
        let work = Layout.workDir options.Results run.Id
        if Layout.isFinished work then
            // Killed between writing its last file and the rename: only the filing is left to do.
            let metrics = { RunFiles.readMetrics work with Sweep = sweep }
            Files.writeAllTextAtomic (Path.Combine(work, Layout.MetricsFile)) (Json.serialize metrics)
            say "finished before an interruption; filing it"
            publish options registry work (Layout.runDir options.Results sweep run.Id) metrics
        else
            trainAndPublish options registry sweep run say

    /// Brings one run to completion unless it already is; never throws for a failed run
    /// (cancellation aside), so one bad run does not stop a sweep.
    let runOne (options: RunnerOptions) (registry: Registry) (sweep: string) (run: SweepRun) (say: string -> unit) =
        let alreadyFinished () =
            match finishedFolder options registry sweep run.Id with
            | Some(_, true) -> Some AlreadyDone
            | Some(row, false) ->
                writeRunReport options row
                Some Adopted
            | None -> None
        try
            match alreadyFinished () with
            | Some outcome -> outcome
            | None ->
                // The run's lock, held while it trains: a process that dies drops it, so a
                // killed run never blocks its restart, and no two processes train one run.
                match registry.TryLock run.Id with
                | None -> Busy
                | Some runLock ->
                    use runLock = runLock
                    // Another process may have finished it while we waited for the lock.
                    let outcome =
                        match alreadyFinished () with
                        | Some outcome -> outcome
                        | None ->
                            train options registry sweep run say
                            Trained
                    runLock.Filed()
                    outcome
        with
        | :? OperationCanceledException -> reraise ()
        | :? MnistException as e -> Failed e.Message
        | e ->
            // Unexpected: keep the details in the work folder's log, and go on with the sweep.
            (try File.AppendAllText(Path.Combine(Layout.workDir options.Results run.Id, "error.txt"), e.ToString() + "\n") with _ -> ())
            Failed $"{e.GetType().Name}: {e.Message}"

    /// Writes results/<sweep>/summary.json when every run of the sweep is complete (the output
    /// MSBuild compares with the sweep definition and the engine to skip an up-to-date sweep).
    let writeSummary (results: string) (registry: Registry) (sweep: string) =
        let members = registry.Members sweep
        let rows = registry.Runs sweep |> List.filter (fun r -> r.IsComplete)
        let complete = not members.IsEmpty && rows.Length = members.Length
        if complete then
            let metric = Ranking.metricFor rows
            let summary =
                {| sweep = sweep
                   engine = EngineVersion.Current
                   runs = rows.Length
                   rankedBy = metric.Name
                   best =
                    Ranking.best rows
                    |> Option.map (fun b -> {| id = b.Id; label = ExperimentSpec.label b.Spec; score = metric.Of b; testAccuracy = b.FinalTestAccuracy |})
                   ranking = [ for r in Ranking.rank rows -> {| id = r.Id; score = metric.Of r; testAccuracy = r.FinalTestAccuracy |} ] |}
            Files.writeAllTextAtomic (Layout.sweepSummary results sweep) (Json.serialize summary)
        complete

    /// Runs a sweep (or one shard of it): skips complete runs, resumes interrupted ones, trains
    /// the rest, then writes the reports and, when the whole sweep is complete, its summary.
    let runSweep (options: RunnerOptions) (sweep: SweepDefinition) =
        let all = Sweep.expand sweep
        let selected = Shard.select options.Shard all
        let registry = openRegistry options
        registry.RecordSweep(sweep, all |> List.map (fun r -> r.Id))
        let total = selected.Length
        // Load each dataset the remaining runs need once, up front: a missing dataset is one
        // clear error, not one failure per run (and a finished sweep loads nothing).
        let isDone (run: SweepRun) =
            match registry.TryGet run.Id with
            | Some row -> row.IsComplete && Layout.isFinished (Path.Combine(options.Results, row.Folder))
            | None -> false
        for dataset in selected |> List.filter (isDone >> not) |> List.map (fun r -> r.Spec.Dataset) |> List.distinct do
            loadDataset options dataset |> ignore
        let outcomes = ConcurrentBag<SweepRun * RunOutcome>()
        let work (index: int) (run: SweepRun) =
            let prefix = $"[{index + 1}/{total} {run.Id}]"
            let say (text: string) = options.Log $"{prefix} {text}"
            let outcome = runOne options registry sweep.Name run say
            match outcome with
            | AlreadyDone -> say "already complete"
            | Adopted -> say "already finished on disk; registered"
            | Busy -> say "being trained by another process; skipped"
            | Failed message -> say $"FAILED: {message}"
            | Trained -> ()
            outcomes.Add((run, outcome))
        let indexed = List.indexed selected
        if options.Parallel <= 1 then
            for index, run in indexed do
                options.Cancel.ThrowIfCancellationRequested()
                work index run
        else
            let parallelOptions = ParallelOptions(MaxDegreeOfParallelism = options.Parallel, CancellationToken = options.Cancel)
            try Parallel.ForEach(indexed, parallelOptions, fun (index, run) -> work index run) |> ignore
            with :? AggregateException as e when (e.InnerExceptions |> Seq.forall (fun x -> x :? OperationCanceledException)) ->
                raise (OperationCanceledException options.Cancel)
        if options.Reports then
            try Reports.SweepReport.write options.Results registry sweep.Name |> ignore
            with e -> options.Log $"could not write the sweep report: {e.Message}"
        let complete = writeSummary options.Results registry sweep.Name
        { Sweep = sweep.Name
          Planned = all.Length
          Selected = total
          Outcomes = outcomes |> Seq.sortBy (fun (r, _) -> r.Position) |> Seq.toList
          Complete = complete }

    /// Forgets an unfinished run, under its lock so that no process is training it: its work
    /// folder (checkpoint included) first, then its registry rows, so a kill in between leaves a
    /// run that starts afresh rather than one that resumes what was discarded.
    let discard (results: string) (registry: Registry) (id: string) =
        match registry.TryGet id with
        | None -> NotFound
        | Some row when row.IsComplete -> AlreadyComplete
        | Some _ ->
            match registry.TryLock id with
            | None -> InUse
            | Some runLock ->
                use _ = runLock
                let work = Layout.workDir results id
                if Directory.Exists work then
                    let trash = Path.Combine(Layout.partialRoot results, $"discarded-{id}-{Guid.NewGuid():N}")
                    Directory.Move(work, trash)
                    Files.deleteTree trash
                if registry.Discard id then Discarded else NotFound
