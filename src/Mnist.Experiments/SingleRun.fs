namespace Mnist.Experiments

open System
open System.IO
open System.Threading
open Mnist.Core.Training

/// One run that no sweep file describes (a training job started from the web dashboard). It is
/// filed under a named sweep that grows a run at a time and trained by Runner.runOne, so its id,
/// checkpoints, atomic filing and reports are those of any sweep run: the same spec asked for
/// twice is found complete the second time. The signatures suit a C# caller.
module SingleRun =
    /// The stored definition of such a sweep: a name and a description, no grid.
    let definitionText (sweep: string) (description: string) =
        Json.serialize {| name = sweep; description = description |}

    /// The run a spec describes: normalized, with its id.
    let plan (spec: ExperimentSpec) =
        let spec = ExperimentSpec.normalize spec
        { Position = 0; Id = ExperimentSpec.runId spec; Spec = spec }

    /// Runner options for one run followed live: its log, its per-batch and per-epoch callbacks.
    let options (results: string) (dataDir: string) (log: Action<string>) (observer: TrainingCallbacks) (cancel: CancellationToken) =
        { RunnerOptions.Defaults results with
            DataDir = Option.ofObj dataDir
            Log = (fun line -> if not (isNull log) then log.Invoke line)
            Observer = Option.ofObj observer
            Cancel = cancel }

    /// The run's registry row when it is complete and its files are in place.
    let tryComplete (results: string) (id: string) =
        let path = Layout.database results
        if not (File.Exists path) then None
        else
            (Registry path).TryGet id
            |> Option.filter (fun row -> row.IsComplete && Layout.isFinished (Path.Combine(results, row.Folder)))

    /// Files the run under the sweep and brings it to completion unless it already is (then it
    /// trains nothing), refreshing the sweep's report. Cancellation throws, leaving the run
    /// "running" with its work folder (and checkpoint) in results/.partial, as for a sweep.
    let run (options: RunnerOptions) (sweep: string) (description: string) (run: SweepRun) (say: Action<string>) =
        let registry = Registry.Open options.Results
        registry.AddToSweep(Sweep.checkName sweep, definitionText sweep description, run.Id)
        let outcome = Runner.runOne options registry sweep run (fun line -> say.Invoke line)
        match outcome with
        | Trained
        | Adopted when options.Reports ->
            try Reports.SweepReport.write options.Results registry sweep |> ignore
            with e -> say.Invoke $"could not write the sweep report: {e.Message}"
        | _ -> ()
        outcome
