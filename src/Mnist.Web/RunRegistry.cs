using Microsoft.Data.Sqlite;

namespace Mnist.Web;

/// <summary>A run as the dashboard lists it (a row of the experiments registry).</summary>
public sealed record RunRecord
{
    public required string Id { get; init; }
    public required string Status { get; init; }
    public required string Sweep { get; init; }
    /// <summary>The run's folder, relative to the results folder ("sweep/id").</summary>
    public required string Folder { get; init; }
    public string? Preset { get; init; }
    public double? Width { get; init; }
    public string? Activation { get; init; }
    public string? Optimizer { get; init; }
    public double? LearningRate { get; init; }
    public string? Schedule { get; init; }
    public int? BatchSize { get; init; }
    public int? Epochs { get; init; }
    public long? Seed { get; init; }
    public long? Parameters { get; init; }
    public int? EpochsDone { get; init; }
    public double? FinalTestAccuracy { get; init; }
    public double? BestTestAccuracy { get; init; }
    public double? TrainSeconds { get; init; }
    public string? StartedAt { get; init; }
    public string? FinishedAt { get; init; }
    public bool IsComplete => Status == "complete";
}

/// <summary>
/// Where the dashboard reads runs from. A thin seam: today a read-only look at results/runs.db,
/// later the F# registry of Mnist.Experiments behind the same two members.
/// </summary>
public interface IRunRegistry
{
    /// <summary>The registry's file, for messages.</summary>
    string Location { get; }

    /// <summary>Every run, newest first; empty when there is no registry yet.</summary>
    IReadOnlyList<RunRecord> Runs();
}

/// <summary>
/// Reads the experiments registry (SQLite, schema of Mnist.Experiments' Registry.fs) read-only.
/// Missing columns read as null, so an older or newer file still lists; a file that is not a
/// registry lists nothing and says why in <see cref="Problem"/>.
/// </summary>
public sealed class SqliteRunRegistry(string databasePath) : IRunRegistry
{
    public const string FileName = "runs.db";

    public string Location { get; } = Path.GetFullPath(databasePath);

    /// <summary>Why the last read found nothing, if it failed.</summary>
    public string? Problem { get; private set; }

    public static SqliteRunRegistry InResults(string resultsDir) => new(Path.Combine(resultsDir, FileName));

    public IReadOnlyList<RunRecord> Runs()
    {
        if (!File.Exists(Location)) return [];
        try
        {
            var connection = new SqliteConnectionStringBuilder
            {
                DataSource = Location,
                Mode = SqliteOpenMode.ReadOnly,
                Pooling = false,
                DefaultTimeout = 5,
            };
            using var db = new SqliteConnection(connection.ToString());
            db.Open();
            using var command = db.CreateCommand();
            command.CommandText = "SELECT * FROM runs ORDER BY started_at DESC, id";
            using var reader = command.ExecuteReader();
            var columns = Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => i, StringComparer.OrdinalIgnoreCase);
            int? At(string name) => columns.TryGetValue(name, out int i) && !reader.IsDBNull(i) ? i : null;
            string? Text(string name) => At(name) is int i ? reader.GetString(i) : null;
            double? Real(string name) => At(name) is int i ? reader.GetDouble(i) : null;
            long? Whole(string name) => At(name) is int i ? reader.GetInt64(i) : null;
            int? Small(string name) => Whole(name) is long v ? (int)v : null;
            var runs = new List<RunRecord>();
            while (reader.Read())
                runs.Add(new RunRecord
                {
                    Id = Text("id") ?? "",
                    Status = Text("status") ?? "",
                    Sweep = Text("sweep") ?? "",
                    Folder = Text("folder") ?? "",
                    Preset = Text("preset"),
                    Width = Real("width"),
                    Activation = Text("activation"),
                    Optimizer = Text("optimizer"),
                    LearningRate = Real("learning_rate"),
                    Schedule = Text("schedule"),
                    BatchSize = Small("batch_size"),
                    Epochs = Small("epochs"),
                    Seed = Whole("seed"),
                    Parameters = Whole("parameters"),
                    EpochsDone = Small("epochs_done"),
                    FinalTestAccuracy = Real("final_test_accuracy"),
                    BestTestAccuracy = Real("best_test_accuracy"),
                    TrainSeconds = Real("train_seconds"),
                    StartedAt = Text("started_at"),
                    FinishedAt = Text("finished_at"),
                });
            Problem = null;
            return runs;
        }
        catch (SqliteException e)
        {
            Problem = $"{Location} cannot be read as a runs registry: {e.Message}";
            return [];
        }
    }
}
