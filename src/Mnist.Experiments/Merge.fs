namespace Mnist.Experiments

open System
open System.IO
open Mnist.Core

type MergeOutcome =
    { Imported: int
      AlreadyPresent: int
      /// Runs left out, with the reason (their files were not beside the source registry).
      Skipped: (string * string) list }

/// Folds SQLite registries from other machines (sweep shards, array tasks) into this results
/// folder and its registry, SQLite or PostgreSQL: each complete
/// run's folder is copied in (to a temporary name, then renamed) before its row is committed,
/// so the merged registry never lists a run whose files are not there.
module Merge =
    let private sourcePath (source: string) =
        if Directory.Exists source then Layout.database source else source

    let private mergeSweeps (target: Registry) (source: Registry) =
        for name, text in source.Sweeps() do
            let incoming = source.Members name
            let existing = target.Members name
            let union = existing @ (incoming |> List.filter (fun id -> not (List.contains id existing)))
            let definition = if existing.IsEmpty then Sweep.parse name text else (target.SweepDefinition name |> Option.defaultWith (fun () -> Sweep.parse name text))
            target.RecordSweep(definition, union)

    let private mergeOne (results: string) (target: Registry) (log: string -> unit) (source: string) =
        let path = Path.GetFullPath(sourcePath source)
        if RegistryLocation.Sqlite path = target.Location then raise (MnistException $"{source} is this results folder's own registry")
        let root = Path.GetDirectoryName path
        let registry = Registry.OpenExisting(RegistryLocation.Sqlite path, root)
        mergeSweeps target registry
        let mutable imported, present, skipped = 0, 0, []
        for row in registry.Runs() |> List.filter (fun r -> r.IsComplete) do
            match target.TryGet row.Id with
            | Some mine when mine.IsComplete && Layout.isFinished (Path.Combine(results, mine.Folder)) ->
                if mine.FinalTestAccuracy <> row.FinalTestAccuracy then
                    log $"{row.Id}: already here with test accuracy {mine.FinalTestAccuracy}, {source} has {row.FinalTestAccuracy}; keeping this one"
                present <- present + 1
            | _ ->
                let from = Path.Combine(root, row.Folder)
                if not (Layout.isFinished from) then
                    skipped <- (row.Id, $"its files are not in {from}") :: skipped
                else
                    let dest = Path.Combine(results, row.Folder)
                    if not (Layout.isFinished dest) then
                        let temp = Path.Combine(Layout.partialRoot results, $"merge-{row.Id}-{Guid.NewGuid():N}")
                        try
                            Files.copyTree from temp
                            Directory.CreateDirectory(Path.GetDirectoryName dest) |> ignore
                            if Directory.Exists dest then Directory.Delete(dest, true)
                            Directory.Move(temp, dest)
                        finally
                            Files.deleteTree temp
                    target.Complete(RunFiles.readMetrics dest, Files.relative results dest)
                    imported <- imported + 1
        log $"{source}: {imported} run(s) imported, {present} already here, {skipped.Length} skipped"
        for id, why in List.rev skipped do log $"  skipped {id}: {why}"
        { Imported = imported; AlreadyPresent = present; Skipped = List.rev skipped }

    /// Merges each source (a runs.db file, or a results folder holding one) into the target
    /// registry (results/runs.db, or a team's PostgreSQL server) and the results folder.
    let run (target: Registry) (results: string) (sources: string list) (log: string -> unit) =
        let outcomes = sources |> List.map (mergeOne results target log)
        { Imported = outcomes |> List.sumBy (fun o -> o.Imported)
          AlreadyPresent = outcomes |> List.sumBy (fun o -> o.AlreadyPresent)
          Skipped = outcomes |> List.collect (fun o -> o.Skipped) }
