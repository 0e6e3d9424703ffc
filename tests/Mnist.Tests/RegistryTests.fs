/// The registry's promises, on both stores (SQLite and a real PostgreSQL server): nothing claims
/// to be finished before it is, a failed commit leaves nothing behind, a run's lock tells
/// running from interrupted, an interrupted run can be discarded, and a registry of another
/// schema version or one that cannot be reached is refused with a clear reason.
module Mnist.Tests.RegistryTests

open System
open System.IO
open Expecto
open Npgsql
open Mnist.Core
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Tests.TestData
open Mnist.Tests.ExperimentFixtures
open Mnist.Tests.StoreFixtures

/// History without timings (which differ from run to run).
let numbers (history: EpochMetrics seq) =
    [ for m in history -> m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.TestLoss, m.TestAccuracy, m.LastLearningRate ]

let private metricsOf id epochs : RunMetrics =
    let epoch e = EpochMetrics(e, 1.0 / float e, 0.5, Nullable 0.9, Nullable 0.8, 0.7, 0.6 + 0.1 * float e, 1.0, 100.0, 0.01f)
    { Id = id
      Engine = "engine-test"
      Sweep = "s"
      Spec = tinySpec
      Parameters = 123L
      History = [| for e in 1 .. epochs -> epoch e |]
      Test = EvaluationSummary(0.7, 0.8, Array.init 10 (fun _ -> Array.zeroCreate 10), [], [])
      StoppedEarly = false
      TrainSeconds = 2.0
      WallSeconds = 3.0
      FinishedAt = DateTimeOffset.UtcNow
      Host = "test" }

/// A trigger that fails the insert of epoch 3, in each store's dialect.
let private sabotage (location: RegistryLocation) =
    match location with
    | RegistryLocation.Sqlite _ ->
        execute location "CREATE TRIGGER sabotage BEFORE INSERT ON epochs WHEN NEW.epoch = 3 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    | RegistryLocation.Postgres _ ->
        execute location
            """CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF NEW.epoch = 3 THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$;
               CREATE TRIGGER sabotage BEFORE INSERT ON epochs FOR EACH ROW EXECUTE FUNCTION sabotage()"""

let private messageOf (f: unit -> 'a) =
    try
        f () |> ignore
        failtest "expected a MnistException"
    with :? MnistException as e -> e.Message

let private storeTests (store: Store) =
    /// A temporary results folder and a new registry of this store for it.
    let fresh () =
        let dir = new TempDir()
        let location = store.Fresh dir.Path
        dir, location, Registry.Open(location, dir.Path)

    testList store.Name [
        test "a started run is 'running' with no results until Complete commits them all at once" {
            let dir, _, registry = fresh ()
            use _ = dir
            registry.MarkRunning("aaaaaaaaaaaa", "s", "s/aaaaaaaaaaaa", tinySpec, "engine-test", 123L)
            let row = registry.TryGet "aaaaaaaaaaaa" |> Option.get
            Expect.equal row.Status "running" "status"
            Expect.isNone row.FinalTestAccuracy "no result yet"
            Expect.isEmpty (Ranking.rank (registry.Runs())) "a running run is never ranked"
            registry.Complete(metricsOf "aaaaaaaaaaaa" 3, "s/aaaaaaaaaaaa")
            let done' = registry.TryGet "aaaaaaaaaaaa" |> Option.get
            Expect.equal done'.Status "complete" "status"
            Expect.equal done'.FinalTestAccuracy (Some 0.8) "final accuracy"
            Expect.equal done'.BestEpoch (Some 3) "best epoch"
            Expect.equal (registry.Epochs "aaaaaaaaaaaa" |> numbers) (numbers (metricsOf "aaaaaaaaaaaa" 3).History) "epochs stored exactly"
            registry.MarkRunning("aaaaaaaaaaaa", "s", "s/aaaaaaaaaaaa", tinySpec, "engine-test", 123L)
            Expect.equal (registry.TryGet "aaaaaaaaaaaa" |> Option.get).Status "complete" "a complete run is never demoted"
        }

        test "a Complete that fails half-way leaves the run exactly as it was" {
            let dir, location, registry = fresh ()
            use _ = dir
            registry.MarkRunning("bbbbbbbbbbbb", "s", "s/bbbbbbbbbbbb", tinySpec, "engine-test", 123L)
            registry.RecordEpoch("bbbbbbbbbbbb", (metricsOf "bbbbbbbbbbbb" 1).History[0])
            sabotage location
            let failure = messageOf (fun () -> registry.Complete(metricsOf "bbbbbbbbbbbb" 3, "s/bbbbbbbbbbbb"))
            Expect.stringContains failure "disk full" "the commit fails, and says why"
            let row = registry.TryGet "bbbbbbbbbbbb" |> Option.get
            Expect.equal row.Status "running" "still running"
            Expect.isNone row.FinalTestAccuracy "no final accuracy"
            Expect.equal (registry.Epochs "bbbbbbbbbbbb" |> List.map (fun m -> m.Epoch)) [ 1 ] "the streamed epoch only"
            Expect.equal row.EpochsDone 1 "one epoch done"
        }

        test "sweep membership and definitions are kept, and ids can be abbreviated" {
            let dir, _, registry = fresh ()
            use _ = dir
            let sweep = tinySweep ()
            let ids = Sweep.expand sweep |> List.map (fun r -> r.Id)
            registry.RecordSweep(sweep, ids)
            registry.RecordSweep(sweep, ids)
            Expect.sequenceEqual (registry.Members "tiny") ids "members in order, once"
            Expect.equal (registry.SweepDefinition "tiny" |> Option.map (fun d -> d.Text)) (Some tinySweepText) "definition"
            registry.MarkRunning(ids[0], "tiny", "tiny/" + ids[0], tinySpec, "e", 1L)
            Expect.equal (registry.Find(ids[0].Substring(0, 5).ToUpperInvariant()) |> List.map (fun r -> r.Id)) [ ids[0] ] "prefix, any case"
            Expect.isEmpty (registry.Find "%") "LIKE wildcards are literal"
            registry.AddToSweep("grown", "{}", ids[2])
            registry.AddToSweep("grown", "{}", ids[1])
            registry.AddToSweep("grown", "{}", ids[2])
            Expect.sequenceEqual (registry.Members "grown") [ ids[2]; ids[1] ] "a growing sweep appends each run once"
        }

        test "an unfinished run is 'running' while a process holds its lock, 'interrupted' once nobody does" {
            let dir, _, registry = fresh ()
            use _ = dir
            registry.MarkRunning("cccccccccccc", "s", "s/cccccccccccc", tinySpec, "e", 1L)
            let row = registry.TryGet "cccccccccccc" |> Option.get
            Expect.equal (registry.StateOf row) RunState.Interrupted "nobody trains it"
            let held = registry.TryLock "cccccccccccc" |> Option.get
            Expect.equal (registry.StateOf row) RunState.Running "its lock is held"
            Expect.isNone (registry.TryLock "cccccccccccc") "nobody else gets the lock"
            (held :> IDisposable).Dispose()
            Expect.equal (registry.StateOf row) RunState.Interrupted "released: interrupted, resumable"
            Expect.equal RunState.Interrupted.Label "interrupted — resumable" "what a person reads"
            let again = registry.TryLock "cccccccccccc"
            Expect.isSome again "the lock can be taken again"
            (again.Value :> IDisposable).Dispose()
        }

        test "discarding forgets an interrupted run and its checkpoint, never a complete or a busy one" {
            let dir, _, registry = fresh ()
            use _ = dir
            registry.MarkRunning("dddddddddddd", "s", "s/dddddddddddd", tinySpec, "e", 1L)
            registry.RecordEpoch("dddddddddddd", (metricsOf "dddddddddddd" 1).History[0])
            registry.AddToSweep("s", "{}", "dddddddddddd")
            let work = Layout.workDir dir.Path "dddddddddddd"
            Directory.CreateDirectory work |> ignore
            File.WriteAllText(Path.Combine(work, Layout.CheckpointFile), "checkpoint")
            let held = registry.TryLock "dddddddddddd" |> Option.get
            Expect.equal (Runner.discard dir.Path registry "dddddddddddd") InUse "a process trains it"
            Expect.isTrue (Directory.Exists work) "its work is kept meanwhile"
            (held :> IDisposable).Dispose()
            Expect.equal (Runner.discard dir.Path registry "dddddddddddd") Discarded "discarded"
            Expect.isNone (registry.TryGet "dddddddddddd") "no row"
            Expect.isEmpty (registry.Epochs "dddddddddddd") "no epochs"
            Expect.isEmpty (registry.Members "s") "no membership"
            Expect.isFalse (Directory.Exists work) "no checkpoint to resume"
            Expect.isEmpty (subfolders (Layout.partialRoot dir.Path)) "nothing left in .partial"
            Expect.equal (Runner.discard dir.Path registry "dddddddddddd") NotFound "gone"
            registry.Complete(metricsOf "eeeeeeeeeeee" 1, "s/eeeeeeeeeeee")
            Expect.equal (Runner.discard dir.Path registry "eeeeeeeeeeee") AlreadyComplete "a complete run is kept"
            Expect.isSome (registry.TryGet "eeeeeeeeeeee") "still there"
        }

        test "a registry of another schema version is refused, and nothing is written to it" {
            let dir, location, registry = fresh ()
            use _ = dir
            registry.MarkRunning("ffffffffffff", "s", "s/ffffffffffff", tinySpec, "e", 1L)
            execute location "UPDATE registry_meta SET value = '99' WHERE key = 'schema_version'"
            execute location "DROP TABLE sweeps"
            for openIt in [ (fun () -> Registry.Open(location, dir.Path)); (fun () -> Registry.OpenExisting(location, dir.Path)) ] do
                let message = messageOf openIt
                Expect.stringContains message "schema version 99" "names the version found"
                Expect.stringContains message $"reads version {1}" "and the one it reads"
            Expect.throws (fun () -> execute location "SELECT 1 FROM sweeps") "the missing table was not created"
        }
    ]

/// The tables as the registry wrote them before it stamped a schema version.
let private legacySchema =
    """CREATE TABLE runs (
           id TEXT PRIMARY KEY, status TEXT NOT NULL CHECK (status IN ('running', 'complete')), sweep TEXT NOT NULL,
           folder TEXT NOT NULL, spec TEXT NOT NULL, engine TEXT NOT NULL, preset TEXT NOT NULL, width REAL NOT NULL,
           activation TEXT NOT NULL, optimizer TEXT NOT NULL, learning_rate REAL NOT NULL, schedule TEXT NOT NULL,
           batch_size INTEGER NOT NULL, epochs INTEGER NOT NULL, seed INTEGER NOT NULL, sample_limit INTEGER,
           validation INTEGER NOT NULL, parameters INTEGER NOT NULL, epochs_done INTEGER NOT NULL DEFAULT 0,
           final_test_accuracy REAL, final_test_loss REAL, best_test_accuracy REAL, best_epoch INTEGER,
           final_validation_accuracy REAL, best_validation_accuracy REAL, train_seconds REAL,
           started_at TEXT NOT NULL, finished_at TEXT, host TEXT NOT NULL);
       CREATE TABLE epochs (
           run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, epoch INTEGER NOT NULL, metrics TEXT NOT NULL,
           train_loss REAL, train_accuracy REAL, validation_loss REAL, validation_accuracy REAL, test_loss REAL,
           test_accuracy REAL, seconds REAL NOT NULL, PRIMARY KEY (run_id, epoch));
       CREATE TABLE sweeps (name TEXT PRIMARY KEY, definition TEXT NOT NULL, updated_at TEXT NOT NULL);
       CREATE TABLE sweep_runs (sweep TEXT NOT NULL, run_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (sweep, run_id));"""

[<Tests>]
let registryTests =
    testList "Experiments.Registry" [
        for store in stores -> storeTests store

        yield test "an SQLite registry written before the version stamp opens as version 1" {
            use dir = new TempDir()
            let path = Layout.database dir.Path
            do
                use connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False")
                connection.Open()
                use cmd = connection.CreateCommand()
                cmd.CommandText <- legacySchema
                cmd.ExecuteNonQuery() |> ignore
            let registry = Registry.OpenExisting(RegistryLocation.InResults dir.Path, dir.Path)
            Expect.isEmpty (registry.Runs()) "read as it is"
            let registry = Registry.Open dir.Path
            registry.MarkRunning("aaaaaaaaaaaa", "s", "s/aaaaaaaaaaaa", tinySpec, "e", 1L)
            Expect.equal (registry.Runs() |> List.length) 1 "and written"
        }

        yield test "a file that is not a registry is refused with its name" {
            use dir = new TempDir()
            File.WriteAllText(Layout.database dir.Path, "not a database, just text that is long enough to look like something")
            let message = messageOf (fun () -> Registry.Open dir.Path)
            Expect.stringContains message (Layout.database dir.Path) "names the file"
            let missing = messageOf (fun () -> Registry.OpenExisting(RegistryLocation.InResults(Path.Combine(dir.Path, "none")), dir.Path))
            Expect.stringContains missing "no registry at" "a missing file is not created by a reader"
            Expect.isFalse (Directory.Exists(Path.Combine(dir.Path, "none"))) "nothing written"
        }

        yield test "registry URLs: postgres:// is PostgreSQL, a path is SQLite, anything else is refused without echoing a password" {
            match RegistryLocation.Parse "postgres://team:p%40ss@db.example:5433/runs?sslmode=disable" with
            | RegistryLocation.Postgres(connectionString, display) ->
                let builder = NpgsqlConnectionStringBuilder connectionString
                Expect.equal (builder.Host, builder.Port, builder.Database, builder.Username, builder.Password)
                    ("db.example", 5433, "runs", "team", "p@ss") "every part, percent-decoded"
                Expect.equal builder.SslMode SslMode.Disable "options pass through"
                Expect.equal display "postgres://team@db.example:5433/runs" "shown without the password"
            | other -> failtest $"{other}"
            match RegistryLocation.Parse "postgresql://me@[::1]/runs" with
            | RegistryLocation.Postgres(connectionString, display) ->
                Expect.equal (NpgsqlConnectionStringBuilder connectionString).Port 5432 "default port"
                Expect.equal display "postgres://me@[::1]:5432/runs" "IPv6 host"
            | other -> failtest $"{other}"
            Expect.equal (RegistryLocation.Parse "some/where/runs.db") (RegistryLocation.Sqlite(Path.GetFullPath "some/where/runs.db")) "a path"
            for bad, why in [ "mysql://me:secret@host/db", "unknown scheme 'mysql'"
                              "postgres://me:secret@host/", "names no database"
                              "postgres://me:secret@host", "names no database"
                              "postgres://me:secret@host/db?nonsense=1", "option Npgsql does not know"
                              "  ", "is empty" ] do
                let message = messageOf (fun () -> RegistryLocation.Parse bad)
                Expect.stringContains message why bad
                Expect.isFalse (message.Contains "secret") $"the password stays hidden: {message}"
        }

        yield test "a PostgreSQL registry that cannot be used says why in one line" {
            let unreachable = messageOf (fun () -> Registry.Open(RegistryLocation.Parse $"postgres://mnist:x@127.0.0.1:{Mnist.TestProcesses.freeLoopbackPort ()}/runs", "unused"))
            Expect.stringStarts unreachable "cannot reach the registry postgres://mnist@127.0.0.1:" unreachable
            let server = Mnist.TestPostgres.require ()
            let wrong = messageOf (fun () -> Registry.Open(RegistryLocation.Parse $"postgres://{server.User}:wrong@127.0.0.1:{server.Port}/postgres", "unused"))
            Expect.stringContains wrong "refused the login" wrong
            Expect.isFalse (wrong.Contains server.Password) "no password shown"
            let noDatabase = messageOf (fun () -> Registry.Open(RegistryLocation.Parse(server.Url "nosuchdb"), "unused"))
            Expect.stringContains noDatabase "does not exist" noDatabase
            for message in [ unreachable; wrong; noDatabase ] do
                Expect.isFalse (message.Contains "\n") $"one line: {message}"
            let empty = messageOf (fun () -> Registry.OpenExisting(RegistryLocation.Parse(server.NewDatabase()), "unused"))
            Expect.stringContains empty "is not a results registry" "a reader never creates the tables"
        }
    ]
