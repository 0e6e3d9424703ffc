/// Every statement the registry runs, written once for both stores: SQLite and PostgreSQL
/// accept the same text (named @parameters, ON CONFLICT upserts, DOUBLE PRECISION and BIGINT,
/// which SQLite reads as REAL and INTEGER). What differs between them lives in RegistryStore.fs.
module internal Mnist.Experiments.RegistrySql

/// The schema this build reads and writes. Bump it (with a migration) when a table changes;
/// a registry stamped with another version is refused rather than misread.
[<Literal>]
let SchemaVersion = 1

let createMeta = "CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

let readVersion = "SELECT value FROM registry_meta WHERE key = 'schema_version'"

let stampVersion = "INSERT INTO registry_meta (key, value) VALUES ('schema_version', @version) ON CONFLICT (key) DO NOTHING"

/// A registry written before the version stamp holds the same tables: it is version 1.
let countRuns = "SELECT COUNT(*) FROM runs"

let createTables =
    [ """CREATE TABLE IF NOT EXISTS runs (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('running', 'complete')),
            sweep TEXT NOT NULL,
            folder TEXT NOT NULL,
            spec TEXT NOT NULL,
            engine TEXT NOT NULL,
            preset TEXT NOT NULL, width DOUBLE PRECISION NOT NULL, activation TEXT NOT NULL, optimizer TEXT NOT NULL,
            learning_rate DOUBLE PRECISION NOT NULL, schedule TEXT NOT NULL, batch_size INTEGER NOT NULL,
            epochs INTEGER NOT NULL, seed BIGINT NOT NULL, sample_limit INTEGER, validation INTEGER NOT NULL,
            parameters BIGINT NOT NULL,
            epochs_done INTEGER NOT NULL DEFAULT 0,
            final_test_accuracy DOUBLE PRECISION, final_test_loss DOUBLE PRECISION, best_test_accuracy DOUBLE PRECISION,
            best_epoch INTEGER, final_validation_accuracy DOUBLE PRECISION, best_validation_accuracy DOUBLE PRECISION,
            train_seconds DOUBLE PRECISION,
            started_at TEXT NOT NULL, finished_at TEXT, host TEXT NOT NULL)"""
      // metrics is the EpochMetrics JSON; the columns beside it are for queries (NaN is stored as NULL).
      """CREATE TABLE IF NOT EXISTS epochs (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            metrics TEXT NOT NULL,
            train_loss DOUBLE PRECISION, train_accuracy DOUBLE PRECISION,
            validation_loss DOUBLE PRECISION, validation_accuracy DOUBLE PRECISION,
            test_loss DOUBLE PRECISION, test_accuracy DOUBLE PRECISION,
            seconds DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (run_id, epoch))"""
      """CREATE TABLE IF NOT EXISTS sweeps (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at TEXT NOT NULL)"""
      """CREATE TABLE IF NOT EXISTS sweep_runs (
            sweep TEXT NOT NULL,
            run_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (sweep, run_id))""" ]

let private specColumns = "preset, width, activation, optimizer, learning_rate, schedule, batch_size, epochs, seed, sample_limit, validation"
let private specValues = "@preset, @width, @activation, @optimizer, @lr, @schedule, @batch, @epochs, @seed, @limit, @validation"

/// A run starts (or restarts); a complete run is left as it is.
let markRunning =
    $"""INSERT INTO runs (id, status, sweep, folder, spec, engine, {specColumns}, parameters, started_at, host)
        VALUES (@id, 'running', @sweep, @folder, @spec, @engine, {specValues}, @parameters, @now, @host)
        ON CONFLICT (id) DO UPDATE SET sweep = excluded.sweep, folder = excluded.folder,
            started_at = excluded.started_at, host = excluded.host
        WHERE runs.status <> 'complete'"""

let runStatus = "SELECT status FROM runs WHERE id = @id"

let upsertEpoch =
    """INSERT INTO epochs (run_id, epoch, metrics, train_loss, train_accuracy, validation_loss,
           validation_accuracy, test_loss, test_accuracy, seconds)
       VALUES (@id, @epoch, @metrics, @trainLoss, @trainAcc, @valLoss, @valAcc, @testLoss, @testAcc, @seconds)
       ON CONFLICT (run_id, epoch) DO UPDATE SET metrics = excluded.metrics, train_loss = excluded.train_loss,
           train_accuracy = excluded.train_accuracy, validation_loss = excluded.validation_loss,
           validation_accuracy = excluded.validation_accuracy, test_loss = excluded.test_loss,
           test_accuracy = excluded.test_accuracy, seconds = excluded.seconds"""

let countEpochs = "UPDATE runs SET epochs_done = (SELECT COUNT(*) FROM epochs WHERE run_id = @id) WHERE id = @id"

/// The whole run, results included, as one row marked complete.
let complete =
    $"""INSERT INTO runs (id, status, sweep, folder, spec, engine, {specColumns}, parameters, epochs_done,
            final_test_accuracy, final_test_loss, best_test_accuracy, best_epoch, final_validation_accuracy,
            best_validation_accuracy, train_seconds, started_at, finished_at, host)
        VALUES (@id, 'complete', @sweep, @folder, @spec, @engine, {specValues}, @parameters, @epochsDone,
            @finalAcc, @finalLoss, @bestAcc, @bestEpoch, @finalVal, @bestVal, @seconds, @finished, @finished, @host)
        ON CONFLICT (id) DO UPDATE SET status = 'complete', sweep = excluded.sweep, folder = excluded.folder,
            spec = excluded.spec, engine = excluded.engine, parameters = excluded.parameters,
            epochs_done = excluded.epochs_done, final_test_accuracy = excluded.final_test_accuracy,
            final_test_loss = excluded.final_test_loss, best_test_accuracy = excluded.best_test_accuracy,
            best_epoch = excluded.best_epoch, final_validation_accuracy = excluded.final_validation_accuracy,
            best_validation_accuracy = excluded.best_validation_accuracy, train_seconds = excluded.train_seconds,
            finished_at = excluded.finished_at, host = excluded.host"""

let deleteEpochs = "DELETE FROM epochs WHERE run_id = @id"

/// A sweep's definition is recorded, or replaced when replace is true.
let upsertSweep (replace: bool) =
    "INSERT INTO sweeps (name, definition, updated_at) VALUES (@name, @definition, @now) ON CONFLICT (name) DO UPDATE SET "
    + (if replace then "definition = excluded.definition, " else "")
    + "updated_at = excluded.updated_at"

let deleteMembers = "DELETE FROM sweep_runs WHERE sweep = @sweep"

let insertMember = "INSERT INTO sweep_runs (sweep, run_id, position) VALUES (@sweep, @id, @position) ON CONFLICT (sweep, run_id) DO NOTHING"

/// A member added after the sweep's other runs.
let appendMember =
    """INSERT INTO sweep_runs (sweep, run_id, position)
       VALUES (@sweep, @id, (SELECT COALESCE(MAX(position) + 1, 0) FROM sweep_runs WHERE sweep = @sweep))
       ON CONFLICT (sweep, run_id) DO NOTHING"""

let runById = "SELECT * FROM runs WHERE id = @id"

let runsByPrefix = "SELECT * FROM runs WHERE id LIKE @prefix ESCAPE '\\' ORDER BY id"

let allRuns = "SELECT * FROM runs ORDER BY started_at, id"

let sweepRuns =
    "SELECT runs.* FROM runs JOIN sweep_runs ON sweep_runs.run_id = runs.id WHERE sweep_runs.sweep = @sweep ORDER BY sweep_runs.position"

let members = "SELECT run_id FROM sweep_runs WHERE sweep = @sweep ORDER BY position"

let epochs = "SELECT metrics FROM epochs WHERE run_id = @id ORDER BY epoch"

let sweeps = "SELECT name, definition FROM sweeps ORDER BY name"

/// Forgetting an unfinished run: its memberships, epochs and row (never a complete one).
let discard =
    [ "DELETE FROM sweep_runs WHERE run_id = @id AND NOT EXISTS (SELECT 1 FROM runs WHERE id = @id AND status = 'complete')"
      "DELETE FROM epochs WHERE run_id = @id AND NOT EXISTS (SELECT 1 FROM runs WHERE id = @id AND status = 'complete')"
      "DELETE FROM runs WHERE id = @id AND status <> 'complete'" ]
