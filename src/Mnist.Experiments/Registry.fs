namespace Mnist.Experiments

open System
open System.IO
open Microsoft.Data.Sqlite
open Mnist.Core
open Mnist.Core.Training

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

/// The results registry: one SQLite file (results/runs.db) through Microsoft.Data.Sqlite. Every
/// method opens its own short connection, so threads and processes can share the file (SQLite
/// serialises writers; a busy database is retried for up to a minute).
and Registry(path: string) =
    static let schema =
        """
        CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
            sweep TEXT NOT NULL,
            folder TEXT NOT NULL,
            spec TEXT NOT NULL,
            engine TEXT NOT NULL,
            preset TEXT NOT NULL, width REAL NOT NULL, activation TEXT NOT NULL, optimizer TEXT NOT NULL,
            learning_rate REAL NOT NULL, schedule TEXT NOT NULL, batch_size INTEGER NOT NULL,
            epochs INTEGER NOT NULL, seed INTEGER NOT NULL, sample_limit INTEGER, validation INTEGER NOT NULL,
            parameters INTEGER NOT NULL,
            epochs_done INTEGER NOT NULL DEFAULT 0,
            final_test_accuracy REAL, final_test_loss REAL, best_test_accuracy REAL, best_epoch INTEGER,
            final_validation_accuracy REAL, best_validation_accuracy REAL,
            train_seconds REAL,
            started_at TEXT NOT NULL, finished_at TEXT, host TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS epochs (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            metrics TEXT NOT NULL, -- the EpochMetrics JSON; the columns below are for queries (SQLite stores NaN as NULL)
            train_loss REAL, train_accuracy REAL,
            validation_loss REAL, validation_accuracy REAL,
            test_loss REAL, test_accuracy REAL,
            seconds REAL NOT NULL,
            PRIMARY KEY (run_id, epoch));
        CREATE TABLE IF NOT EXISTS sweeps (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS sweep_runs (
            sweep TEXT NOT NULL,
            run_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (sweep, run_id));
        """

    let fullPath = Path.GetFullPath path

    let connect () =
        let connection = new SqliteConnection($"Data Source={fullPath};Pooling=False;Default Timeout=60")
        connection.Open()
        use pragma = connection.CreateCommand()
        pragma.CommandText <- "PRAGMA foreign_keys = ON;"
        pragma.ExecuteNonQuery() |> ignore
        connection

    let command (connection: SqliteConnection) (transaction: SqliteTransaction) (sql: string) (parameters: (string * obj) list) =
        let cmd = connection.CreateCommand()
        cmd.CommandText <- sql
        cmd.Transaction <- transaction
        for name, value in parameters do
            cmd.Parameters.AddWithValue(name, (match value with null -> box DBNull.Value | v -> v)) |> ignore
        cmd

    let opt (value: 'T option) : obj = match value with Some v -> box v | None -> null

    /// A REAL column's value: SQLite has no NaN or infinity (a diverged run's loss), so those are NULL.
    let real (value: float) : obj = if Double.IsFinite value then box value else null

    let now () = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ")

    let specColumns (spec: ExperimentSpec) : (string * obj) list =
        [ "$spec", box (Json.serializeCompact spec)
          "$preset", box spec.Preset
          "$width", box spec.Width
          "$activation", box spec.Activation
          "$optimizer", box spec.Optimizer.Name
          "$lr", real (float spec.LearningRate)
          "$schedule", box spec.Schedule.Name
          "$batch", box spec.BatchSize
          "$epochs", box spec.Epochs
          "$seed", box (int64 spec.Seed)
          "$limit", opt spec.Limit
          "$validation", box spec.Validation ]

    let readOpt (reader: SqliteDataReader) (column: string) : 'T option =
        let i = reader.GetOrdinal column
        if reader.IsDBNull i then None else Some(reader.GetFieldValue<'T> i)

    let readRow (reader: SqliteDataReader) =
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

    let query (sql: string) (parameters: (string * obj) list) =
        use connection = connect ()
        use cmd = command connection null sql parameters
        use reader = cmd.ExecuteReader()
        [ while reader.Read() do yield readRow reader ]

    let epochParameters (id: string) (m: EpochMetrics) : (string * obj) list =
        [ "$id", box id
          "$epoch", box m.Epoch
          "$metrics", box (Text.Json.JsonSerializer.Serialize(m, RunMetadata.Json))
          "$trainLoss", real m.TrainLoss
          "$trainAcc", real m.TrainAccuracy
          "$valLoss", (if m.ValidationLoss.HasValue then real m.ValidationLoss.Value else null)
          "$valAcc", (if m.ValidationAccuracy.HasValue then real m.ValidationAccuracy.Value else null)
          "$testLoss", real m.TestLoss
          "$testAcc", real m.TestAccuracy
          "$seconds", real m.Seconds ]

    let insertEpoch =
        """INSERT OR REPLACE INTO epochs (run_id, epoch, metrics, train_loss, train_accuracy, validation_loss,
               validation_accuracy, test_loss, test_accuracy, seconds)
           VALUES ($id, $epoch, $metrics, $trainLoss, $trainAcc, $valLoss, $valAcc, $testLoss, $testAcc, $seconds)"""

    do
        Directory.CreateDirectory(Path.GetDirectoryName fullPath) |> ignore
        use connection = connect ()
        use cmd = command connection null schema []
        cmd.ExecuteNonQuery() |> ignore

    member _.Path = fullPath

    /// Records that a run has started (or restarted). A complete run is left as it is.
    member _.MarkRunning(id: string, sweep: string, folder: string, spec: ExperimentSpec, engine: string, parameters: int64) =
        use connection = connect ()
        use cmd =
            command connection null
                """INSERT INTO runs (id, status, sweep, folder, spec, engine, preset, width, activation, optimizer,
                       learning_rate, schedule, batch_size, epochs, seed, sample_limit, validation, parameters, started_at, host)
                   VALUES ($id, 'running', $sweep, $folder, $spec, $engine, $preset, $width, $activation, $optimizer,
                       $lr, $schedule, $batch, $epochs, $seed, $limit, $validation, $parameters, $now, $host)
                   ON CONFLICT (id) DO UPDATE SET sweep = excluded.sweep, folder = excluded.folder,
                       started_at = excluded.started_at, host = excluded.host
                   WHERE runs.status <> 'complete'"""
                ([ "$id", box id; "$sweep", box sweep; "$folder", box folder; "$engine", box engine
                   "$parameters", box parameters; "$now", box (now ()); "$host", box Environment.MachineName ]
                 @ specColumns spec)
        cmd.ExecuteNonQuery() |> ignore

    /// Streams one finished epoch of a running run (ignored once the run is complete).
    member _.RecordEpoch(id: string, metrics: EpochMetrics) =
        use connection = connect ()
        use tx = connection.BeginTransaction()
        use check = command connection tx "SELECT status FROM runs WHERE id = $id" [ "$id", box id ]
        match check.ExecuteScalar() with
        | :? string as status when status = "running" ->
            use cmd = command connection tx insertEpoch (epochParameters id metrics)
            cmd.ExecuteNonQuery() |> ignore
            use count =
                command connection tx "UPDATE runs SET epochs_done = (SELECT COUNT(*) FROM epochs WHERE run_id = $id) WHERE id = $id" [ "$id", box id ]
            count.ExecuteNonQuery() |> ignore
            tx.Commit()
        | _ -> ()

    /// Marks a run complete with its results, in one transaction. Call only once the run's files
    /// are in their final folder: a complete row always has its files.
    member _.Complete(metrics: RunMetrics, folder: string) =
        let history = metrics.History
        let last = Array.last history
        let best = history |> Array.maxBy (fun m -> m.TestAccuracy)
        let validations = history |> Array.choose (fun m -> Option.ofNullable m.ValidationAccuracy)
        use connection = connect ()
        use tx = connection.BeginTransaction()
        use upsert =
            command connection tx
                """INSERT INTO runs (id, status, sweep, folder, spec, engine, preset, width, activation, optimizer,
                       learning_rate, schedule, batch_size, epochs, seed, sample_limit, validation, parameters, epochs_done,
                       final_test_accuracy, final_test_loss, best_test_accuracy, best_epoch, final_validation_accuracy,
                       best_validation_accuracy, train_seconds, started_at, finished_at, host)
                   VALUES ($id, 'complete', $sweep, $folder, $spec, $engine, $preset, $width, $activation, $optimizer,
                       $lr, $schedule, $batch, $epochs, $seed, $limit, $validation, $parameters, $epochsDone,
                       $finalAcc, $finalLoss, $bestAcc, $bestEpoch, $finalVal, $bestVal, $seconds, $finished, $finished, $host)
                   ON CONFLICT (id) DO UPDATE SET status = 'complete', sweep = excluded.sweep, folder = excluded.folder,
                       spec = excluded.spec, engine = excluded.engine, parameters = excluded.parameters,
                       epochs_done = excluded.epochs_done, final_test_accuracy = excluded.final_test_accuracy,
                       final_test_loss = excluded.final_test_loss, best_test_accuracy = excluded.best_test_accuracy,
                       best_epoch = excluded.best_epoch, final_validation_accuracy = excluded.final_validation_accuracy,
                       best_validation_accuracy = excluded.best_validation_accuracy, train_seconds = excluded.train_seconds,
                       finished_at = excluded.finished_at, host = excluded.host"""
                ([ "$id", box metrics.Id; "$sweep", box metrics.Sweep; "$folder", box folder; "$engine", box metrics.Engine
                   "$parameters", box metrics.Parameters; "$epochsDone", box history.Length
                   "$finalAcc", real metrics.Test.Accuracy; "$finalLoss", real metrics.Test.Loss
                   "$bestAcc", real best.TestAccuracy; "$bestEpoch", box best.Epoch
                   "$finalVal", (if last.ValidationAccuracy.HasValue then real last.ValidationAccuracy.Value else null)
                   "$bestVal", (if validations.Length > 0 then real (Array.max validations) else null)
                   "$seconds", real metrics.TrainSeconds
                   "$finished", box (metrics.FinishedAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ"))
                   "$host", box metrics.Host ]
                 @ specColumns metrics.Spec)
        upsert.ExecuteNonQuery() |> ignore
        use clear = command connection tx "DELETE FROM epochs WHERE run_id = $id" [ "$id", box metrics.Id ]
        clear.ExecuteNonQuery() |> ignore
        for m in history do
            use insert = command connection tx insertEpoch (epochParameters metrics.Id m)
            insert.ExecuteNonQuery() |> ignore
        tx.Commit()

    /// Remembers a sweep's definition and which runs belong to it (in expansion order).
    member _.RecordSweep(sweep: SweepDefinition, runIds: string list) =
        use connection = connect ()
        use tx = connection.BeginTransaction()
        use upsert =
            command connection tx
                """INSERT INTO sweeps (name, definition, updated_at) VALUES ($name, $definition, $now)
                   ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at"""
                [ "$name", box sweep.Name; "$definition", box sweep.Text; "$now", box (now ()) ]
        upsert.ExecuteNonQuery() |> ignore
        use clear = command connection tx "DELETE FROM sweep_runs WHERE sweep = $name" [ "$name", box sweep.Name ]
        clear.ExecuteNonQuery() |> ignore
        for position, id in List.indexed runIds do
            use insert =
                command connection tx "INSERT OR IGNORE INTO sweep_runs (sweep, run_id, position) VALUES ($sweep, $id, $position)"
                    [ "$sweep", box sweep.Name; "$id", box id; "$position", box position ]
            insert.ExecuteNonQuery() |> ignore
        tx.Commit()

    /// Adds one run to a sweep that grows a run at a time (the dashboard's), after its other
    /// runs; the sweep's definition is recorded only when the sweep is new.
    member _.AddToSweep(sweep: string, definition: string, id: string) =
        use connection = connect ()
        use tx = connection.BeginTransaction()
        use upsert =
            command connection tx
                """INSERT INTO sweeps (name, definition, updated_at) VALUES ($name, $definition, $now)
                   ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at"""
                [ "$name", box sweep; "$definition", box definition; "$now", box (now ()) ]
        upsert.ExecuteNonQuery() |> ignore
        use insert =
            command connection tx
                """INSERT OR IGNORE INTO sweep_runs (sweep, run_id, position)
                   VALUES ($sweep, $id, (SELECT COALESCE(MAX(position) + 1, 0) FROM sweep_runs WHERE sweep = $sweep))"""
                [ "$sweep", box sweep; "$id", box id ]
        insert.ExecuteNonQuery() |> ignore
        tx.Commit()

    member _.TryGet(id: string) = query "SELECT * FROM runs WHERE id = $id" [ "$id", box id ] |> List.tryHead

    /// Runs whose id starts with the prefix (so a person can type a few characters).
    member _.Find(prefix: string) =
        query "SELECT * FROM runs WHERE id LIKE $prefix ESCAPE '\\' ORDER BY id"
            [ "$prefix", box (prefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%") ]

    /// Every run, or a sweep's runs in sweep order.
    member _.Runs(?sweep: string) =
        match sweep with
        | None -> query "SELECT * FROM runs ORDER BY started_at, id" []
        | Some name ->
            query "SELECT runs.* FROM runs JOIN sweep_runs ON sweep_runs.run_id = runs.id WHERE sweep_runs.sweep = $sweep ORDER BY sweep_runs.position"
                [ "$sweep", box name ]

    /// The run ids a sweep holds, in order (complete or not, registered or not).
    member _.Members(sweep: string) =
        use connection = connect ()
        use cmd = command connection null "SELECT run_id FROM sweep_runs WHERE sweep = $sweep ORDER BY position" [ "$sweep", box sweep ]
        use reader = cmd.ExecuteReader()
        [ while reader.Read() do yield reader.GetString 0 ]

    member _.Epochs(id: string) =
        use connection = connect ()
        use cmd = command connection null "SELECT metrics FROM epochs WHERE run_id = $id ORDER BY epoch" [ "$id", box id ]
        use reader = cmd.ExecuteReader()
        [ while reader.Read() do yield Text.Json.JsonSerializer.Deserialize<EpochMetrics>(reader.GetString 0, RunMetadata.Json) ]

    /// Sweep names with their stored definitions.
    member _.Sweeps() =
        use connection = connect ()
        use cmd = command connection null "SELECT name, definition FROM sweeps ORDER BY name" []
        use reader = cmd.ExecuteReader()
        [ while reader.Read() do yield reader.GetString 0, reader.GetString 1 ]

    member this.SweepDefinition(name: string) =
        this.Sweeps() |> List.tryFind (fun (n, _) -> n = name) |> Option.map (fun (n, text) -> Sweep.parse n text)

    /// Opens the registry at results/runs.db (created when missing).
    static member Open(results: string) = Registry(Layout.database results)

    /// Opens an existing registry file, refusing a path that is not one.
    static member OpenExisting(path: string) =
        if not (File.Exists path) then raise (MnistException $"registry not found: {path}")
        try
            let registry = Registry(path)
            registry.Runs() |> ignore
            registry
        with :? SqliteException as e -> raise (MnistException($"{path} is not a results registry: {e.Message}", e))
