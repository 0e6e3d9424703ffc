namespace Mnist.Experiments

open System
open System.IO
open System.Threading
open Mnist.Core
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
    let options (results: string) (registry: RegistryLocation) (dataDir: string) (log: Action<string>) (observer: TrainingCallbacks) (cancel: CancellationToken) =
        { RunnerOptions.Defaults results with
            Registry = Some registry
            DataDir = Option.ofObj dataDir
            Log = (fun line -> if not (isNull log) then log.Invoke line)
            Observer = Option.ofObj observer
            Cancel = cancel }

    /// The run's registry row when it is complete and its files are in place.
    let tryComplete (options: RunnerOptions) (registry: Registry) (id: string) =
        registry.TryGet id
        |> Option.filter (fun row -> row.IsComplete && Layout.isFinished (Path.Combine(options.Results, row.Folder)))

    /// Brings a run of the sweep to completion and refreshes the sweep's report.
    let private finish (options: RunnerOptions) (registry: Registry) (sweep: string) (run: SweepRun) (say: Action<string>) =
        let outcome = Runner.runOne options registry sweep run (fun line -> say.Invoke line)
        match outcome with
        | Trained
        | Adopted when options.Reports ->
            try Reports.SweepReport.write options.Results registry sweep |> ignore
            with e -> say.Invoke $"could not write the sweep report: {e.Message}"
        | _ -> ()
        outcome

    /// Files the run under the sweep and brings it to completion unless it already is (then it
    /// trains nothing), refreshing the sweep's report. Cancellation throws, leaving the run
    /// "running" with its work folder (and checkpoint) in results/.partial, as for a sweep.
    let run (options: RunnerOptions) (registry: Registry) (sweep: string) (description: string) (run: SweepRun) (say: Action<string>) =
        registry.AddToSweep(Sweep.checkName sweep, definitionText sweep description, run.Id)
        finish options registry sweep run say

    /// The run an interrupted registry row describes, or why it cannot be continued: a row
    /// written by another engine would hash to another id and its checkpoint would not fit.
    let planResume (row: RunRow) =
        if row.IsComplete then Error $"run {row.Id} is complete"
        elif row.Engine <> EngineVersion.Current then
            Error $"run {row.Id} was started by engine {row.Engine} and this build is {EngineVersion.Current}: discard it and start its settings afresh"
        else
            let planned = plan row.Spec
            if planned.Id <> row.Id then Error $"run {row.Id}: its recorded spec hashes to {planned.Id}; discard it"
            else Ok planned

    /// Continues an interrupted run in its own sweep, from its last checkpoint.
    let resume (options: RunnerOptions) (registry: Registry) (row: RunRow) (run: SweepRun) (say: Action<string>) =
        finish options registry row.Sweep run say
