namespace Mnist.Experiments

open System
open System.Data.Common
open System.Runtime.InteropServices
open Mnist.Core
open Mnist.Core.Training

/// Where a run stands. A run the registry calls "running" whose lock no process holds was
/// interrupted (cancelled, killed, its server restarted) and resumes from its last checkpoint.
[<RequireQualifiedAccess>]
type RunState =
    | Complete
    | Running
    | Interrupted

    /// The word the registry, `mnist runs` and the dashboard's API use.
    member s.Name =
        match s with
        | Complete -> "complete"
        | Running -> "running"
        | Interrupted -> "interrupted"

    /// What a person reads.
    member s.Label =
        match s with
        | Interrupted -> "interrupted — resumable"
        | s -> s.Name

    /// How many runs are running and how many interrupted, as words ("1 running",
    /// "2 interrupted — resumable"); none for a state no run is in.
    static member Counts(states: RunState seq) =
        [ for state in [ Running; Interrupted ] do
              match states |> Seq.filter ((=) state) |> Seq.length with
              | 0 -> ()
              | n -> yield $"{n} {state.Label}" ]

/// A run as the registry knows it. Status is "running" until the run's files are in their final
/// place; only then does one transaction make it "complete" with its results.
type RunRow =
    { Id: string
      Status: string
      /// The sweep whose folder holds the run's files.
      Sweep: string
      /// The run's folder, relative to the results folder.
      Folder: string
      Spec: ExperimentSpec
      Engine: string
      Parameters: int64
      EpochsDone: int
      FinalTestAccuracy: float option
      FinalTestLoss: float option
      BestTestAccuracy: float option
      BestEpoch: int option
      FinalValidationAccuracy: float option
      BestValidationAccuracy: float option
      TrainSeconds: float option
      StartedAt: string
      FinishedAt: string option
      Host: string }
    member r.IsComplete = r.Status = "complete"
    /// The final test accuracy for C# callers (null when unfinished).
    member r.TestAccuracyOrNull = Option.toNullable r.FinalTestAccuracy

/// What discarding an unfinished run did.
type DiscardOutcome =
    | Discarded
    | NotFound
    | AlreadyComplete
    /// A process holds the run's lock: it is training it now.
    | InUse

/// The results registry, on SQLite (one file, one machine) or PostgreSQL (a team's server): the
/// same schema, statements and semantics on both. Every method opens its own short connection,
/// so threads and processes can share it. The only way in is Open or OpenExisting, which check
/// the schema version before anything is read or written.
type Registry private (store: RegistryStore) =
    let location = store.Location

    /// A command with @parameters (null is SQL NULL).
    let command (connection: DbConnection) (transaction: DbTransaction) (sql: string) (parameters: (string * obj) list) =
        let cmd = connection.CreateCommand()
        cmd.CommandText <- sql
        cmd.Transaction <- transaction
        for name, value in parameters do
            let p = cmd.CreateParameter()
            p.ParameterName <- "@" + name
            p.Value <- (match value with null -> box DBNull.Value | v -> v)
            cmd.Parameters.Add p |> ignore
        cmd

    let execute connection transaction sql parameters =
        use cmd = command connection transaction sql parameters
        cmd.ExecuteNonQuery()

    /// Runs f on a fresh connection; a database error is a MnistException naming the registry.
    let using (f: DbConnection -> 'T) =
        use connection = store.Connect()
        try f connection
        with :? DbException as e -> raise (MnistException($"registry {location}: {e.Message}", e))

    /// Runs f in one transaction, committed only when f returns.
    let transaction (f: DbConnection -> DbTransaction -> unit) =
        using (fun connection ->
            use tx = connection.BeginTransaction()
            f connection tx
            tx.Commit())

    let opt (value: 'T option) : obj = match value with Some v -> box v | None -> null

    /// A REAL column's value: SQLite has no NaN or infinity (a diverged run's loss), so those are
    /// NULL, on PostgreSQL too, so that both stores answer queries alike.
    let real (value: float) : obj = if Double.IsFinite value then box value else null
    let realOpt (value: Nullable<float>) : obj = if value.HasValue then real value.Value else null

    let now () = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ")

    let specColumns (spec: ExperimentSpec) : (string * obj) list =
        [ "spec", box (Json.serializeCompact spec)
          "preset", box spec.Preset
          "width", box spec.Width
          "activation", box spec.Activation
          "optimizer", box spec.Optimizer.Name
          "lr", real (float spec.LearningRate)
          "schedule", box spec.Schedule.Name
          "batch", box spec.BatchSize
          "epochs", box spec.Epochs
          "seed", box (int64 spec.Seed)
          "limit", opt spec.Limit
          "validation", box spec.Validation ]

    let readOpt (reader: DbDataReader) (column: string) : 'T option =
        let i = reader.GetOrdinal column
        if reader.IsDBNull i then None else Some(reader.GetFieldValue<'T> i)

    let readRow (reader: DbDataReader) =
        { Id = reader.GetString(reader.GetOrdinal "id")
          Status = reader.GetString(reader.GetOrdinal "status")
          Sweep = reader.GetString(reader.GetOrdinal "sweep")
          Folder = reader.GetString(reader.GetOrdinal "folder")
          Spec = Json.deserialize<ExperimentSpec> (reader.GetString(reader.GetOrdinal "spec"))
          Engine = reader.GetString(reader.GetOrdinal "engine")
          Parameters = reader.GetInt64(reader.GetOrdinal "parameters")
          EpochsDone = reader.GetInt32(reader.GetOrdinal "epochs_done")
          FinalTestAccuracy = readOpt reader "final_test_accuracy"
          FinalTestLoss = readOpt reader "final_test_loss"
          BestTestAccuracy = readOpt reader "best_test_accuracy"
          BestEpoch = readOpt reader "best_epoch"
          FinalValidationAccuracy = readOpt reader "final_validation_accuracy"
          BestValidationAccuracy = readOpt reader "best_validation_accuracy"
          TrainSeconds = readOpt reader "train_seconds"
          StartedAt = reader.GetString(reader.GetOrdinal "started_at")
          FinishedAt = readOpt reader "finished_at"
          Host = reader.GetString(reader.GetOrdinal "host") }

    let list (sql: string) (parameters: (string * obj) list) (read: DbDataReader -> 'T) =
        using (fun connection ->
            use cmd = command connection null sql parameters
            use reader = cmd.ExecuteReader()
            [ while reader.Read() do yield read reader ])

    let epochParameters (id: string) (m: EpochMetrics) : (string * obj) list =
        [ "id", box id
          "epoch", box m.Epoch
          "metrics", box (Text.Json.JsonSerializer.Serialize(m, RunMetadata.Json))
          "trainLoss", real m.TrainLoss
          "trainAcc", real m.TrainAccuracy
          "valLoss", realOpt m.ValidationLoss
          "valAcc", realOpt m.ValidationAccuracy
          "testLoss", real m.TestLoss
          "testAcc", real m.TestAccuracy
          "seconds", real m.Seconds ]

    let refuseVersion (found: string) =
        raise (
            MnistException
                $"the registry {location} has schema version {found}; this mnist reads version {RegistrySql.SchemaVersion} (use the matching mnist, or another registry)"
        )

    /// The stamped version, None when the registry predates the stamp (or is empty). Reading it
    /// never writes: a failed read is the registry's own answer.
    let storedVersion (connection: DbConnection) =
        try
            use cmd = command connection null RegistrySql.readVersion []
            match cmd.ExecuteScalar() with
            | :? string as v -> Some v
            | _ -> None
        with :? DbException -> None

    /// Creates what is missing and stamps the version, in one transaction, unless the registry
    /// holds another version: then nothing is written.
    let createSchema () =
        transaction (fun connection tx ->
            store.LockSchema(connection, tx)
            execute connection tx RegistrySql.createMeta [] |> ignore
            use read = command connection tx RegistrySql.readVersion []
            match read.ExecuteScalar() with
            | :? string as v when v <> string RegistrySql.SchemaVersion -> refuseVersion v
            | _ -> ()
            for sql in RegistrySql.createTables do execute connection tx sql [] |> ignore
            execute connection tx RegistrySql.stampVersion [ "version", box (string RegistrySql.SchemaVersion) ] |> ignore)

    /// Checks, without writing, that this is a registry of our version.
    let checkSchema () =
        using (fun connection ->
            match storedVersion connection with
            | Some v when v = string RegistrySql.SchemaVersion -> ()
            | Some v -> refuseVersion v
            | None ->
                try
                    use cmd = command connection null RegistrySql.countRuns []
                    cmd.ExecuteScalar() |> ignore
                with :? DbException as e ->
                    raise (MnistException($"{location} is not a results registry (run a sweep with it first): {e.Message}", e)))

    /// Where the registry is, for messages (a PostgreSQL URL without its password).
    member _.Location = location

    /// Whose lock says who trains what.
    member _.TryLock(id: string) = store.Locks.TryAcquire id

    /// Complete, running (a process holds its lock) or interrupted.
    member _.StateOf(row: RunRow) =
        if row.IsComplete then RunState.Complete
        elif store.Locks.IsHeld row.Id then RunState.Running
        else RunState.Interrupted

    /// Records that a run has started (or restarted). A complete run is left as it is.
    member _.MarkRunning(id: string, sweep: string, folder: string, spec: ExperimentSpec, engine: string, parameters: int64) =
        using (fun connection ->
            execute connection null RegistrySql.markRunning
                ([ "id", box id; "sweep", box sweep; "folder", box folder; "engine", box engine
                   "parameters", box parameters; "now", box (now ()); "host", box Environment.MachineName ]
                 @ specColumns spec)
            |> ignore)

    /// Streams one finished epoch of a running run (ignored once the run is complete).
    member _.RecordEpoch(id: string, metrics: EpochMetrics) =
        transaction (fun connection tx ->
            use check = command connection tx RegistrySql.runStatus [ "id", box id ]
            match check.ExecuteScalar() with
            | :? string as status when status = "running" ->
                execute connection tx RegistrySql.upsertEpoch (epochParameters id metrics) |> ignore
                execute connection tx RegistrySql.countEpochs [ "id", box id ] |> ignore
            | _ -> ())

    /// Marks a run complete with its results, in one transaction. Call only once the run's files
    /// are in their final folder: a complete row always has its files.
    member _.Complete(metrics: RunMetrics, folder: string) =
        let history = metrics.History
        let last = Array.last history
        let best = history |> Array.maxBy (fun m -> m.TestAccuracy)
        let validations = history |> Array.choose (fun m -> Option.ofNullable m.ValidationAccuracy)
        transaction (fun connection tx ->
            execute connection tx RegistrySql.complete
                ([ "id", box metrics.Id; "sweep", box metrics.Sweep; "folder", box folder; "engine", box metrics.Engine
                   "parameters", box metrics.Parameters; "epochsDone", box history.Length
                   "finalAcc", real metrics.Test.Accuracy; "finalLoss", real metrics.Test.Loss
                   "bestAcc", real best.TestAccuracy; "bestEpoch", box best.Epoch
                   "finalVal", realOpt last.ValidationAccuracy
                   "bestVal", (if validations.Length > 0 then real (Array.max validations) else null)
                   "seconds", real metrics.TrainSeconds
                   "finished", box (metrics.FinishedAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ"))
                   "host", box metrics.Host ]
                 @ specColumns metrics.Spec)
            |> ignore
            execute connection tx RegistrySql.deleteEpochs [ "id", box metrics.Id ] |> ignore
            for m in history do
                execute connection tx RegistrySql.upsertEpoch (epochParameters metrics.Id m) |> ignore)

    /// Remembers a sweep's definition and which runs belong to it (in expansion order).
    member _.RecordSweep(sweep: SweepDefinition, runIds: string list) =
        transaction (fun connection tx ->
            execute connection tx (RegistrySql.upsertSweep true)
                [ "name", box sweep.Name; "definition", box sweep.Text; "now", box (now ()) ]
            |> ignore
            execute connection tx RegistrySql.deleteMembers [ "sweep", box sweep.Name ] |> ignore
            for position, id in List.indexed runIds do
                execute connection tx RegistrySql.insertMember [ "sweep", box sweep.Name; "id", box id; "position", box position ]
                |> ignore)

    /// Adds one run to a sweep that grows a run at a time (the dashboard's), after its other
    /// runs; the sweep's definition is recorded only when the sweep is new.
    member _.AddToSweep(sweep: string, definition: string, id: string) =
        transaction (fun connection tx ->
            execute connection tx (RegistrySql.upsertSweep false) [ "name", box sweep; "definition", box definition; "now", box (now ()) ]
            |> ignore
            execute connection tx RegistrySql.appendMember [ "sweep", box sweep; "id", box id ] |> ignore)

    /// Forgets an unfinished run's rows (a complete run is never touched). The caller holds the
    /// run's lock and has removed its work folder.
    member _.Discard(id: string) =
        let mutable removed = 0
        transaction (fun connection tx ->
            for sql in RegistrySql.discard do
                removed <- execute connection tx sql [ "id", box id ])
        removed > 0

    member _.TryGet(id: string) = list RegistrySql.runById [ "id", box id ] readRow |> List.tryHead

    /// Runs whose id starts with the prefix (so a person can type a few characters).
    member _.Find(prefix: string) =
        let escaped = prefix.ToLowerInvariant().Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_")
        list RegistrySql.runsByPrefix [ "prefix", box (escaped + "%") ] readRow

    /// Every run, or a sweep's runs in sweep order.
    member _.Runs([<Optional; DefaultParameterValue(null: string)>] sweep: string) =
        match Option.ofObj sweep with
        | None -> list RegistrySql.allRuns [] readRow
        | Some name -> list RegistrySql.sweepRuns [ "sweep", box name ] readRow

    /// The run ids a sweep holds, in order (complete or not, registered or not).
    member _.Members(sweep: string) = list RegistrySql.members [ "sweep", box sweep ] (fun r -> r.GetString 0)

    member _.Epochs(id: string) =
        list RegistrySql.epochs [ "id", box id ] (fun r -> Text.Json.JsonSerializer.Deserialize<EpochMetrics>(r.GetString 0, RunMetadata.Json))

    /// Sweep names with their stored definitions.
    member _.Sweeps() = list RegistrySql.sweeps [] (fun r -> r.GetString 0, r.GetString 1)

    member this.SweepDefinition(name: string) =
        this.Sweeps() |> List.tryFind (fun (n, _) -> n = name) |> Option.map (fun (n, text) -> Sweep.parse n text)

    /// Opens a registry for reading and writing, creating its tables when it has none (an
    /// SQLite file is created). Run folders live in the results folder; so do an SQLite
    /// registry's run locks.
    static member Open(location: RegistryLocation, results: string) =
        let registry = Registry(RegistryStore.For(location, results))
        registry.CreateSchema()
        registry

    /// Opens the registry at results/runs.db (created when missing).
    static member Open(results: string) = Registry.Open(RegistryLocation.InResults results, results)

    /// Opens a registry that must already exist, writing nothing: a missing SQLite file, a
    /// database without our tables or of another schema version is refused with the reason.
    static member OpenExisting(location: RegistryLocation, results: string) =
        match location with
        | RegistryLocation.Sqlite path when not (IO.File.Exists path) ->
            raise (MnistException $"no registry at {path}: run a sweep first (`mnist sweep quick`)")
        | _ -> ()
        let registry = Registry(RegistryStore.For(location, results))
        registry.CheckSchema()
        registry

    member private _.CreateSchema() = createSchema ()
    member private _.CheckSchema() = checkSchema ()
