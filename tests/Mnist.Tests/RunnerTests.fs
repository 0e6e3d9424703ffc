/// The registry's atomicity and the runner's promises: nothing claims to be finished before it
/// is, a killed sweep resumes with no missing and no duplicate runs, shards merge, reruns match.
module Mnist.Tests.RunnerTests

open System
open System.IO
open System.Threading
open Expecto
open Microsoft.Data.Sqlite
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Tests.TestData
open Mnist.Tests.ExperimentFixtures

let private quiet results = { options results with Reports = false }

/// History without timings (which differ from run to run).
let private numbers (history: EpochMetrics seq) =
    [ for m in history -> m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.TestLoss, m.TestAccuracy, m.LastLearningRate ]

/// Every run of the sweep is complete once, with its folder, and nothing else is left over.
let private expectWholeSweep (results: string) (sweep: SweepDefinition) =
    let planned = Sweep.expand sweep |> List.map (fun r -> r.Id) |> List.sort
    let registry = Registry.Open results
    let rows = registry.Runs()
    Expect.sequenceEqual (rows |> List.map (fun r -> r.Id) |> List.sort) planned "one registry row per planned run"
    Expect.isTrue (rows |> List.forall (fun r -> r.IsComplete)) "all complete"
    Expect.sequenceEqual (subfolders (Layout.sweepDir results sweep.Name)) planned "one folder per run, no strays"
    for r in rows do
        Expect.isTrue (Layout.isFinished (Path.Combine(results, r.Folder))) $"{r.Id} has its files"
        Expect.equal (registry.Epochs r.Id).Length r.Spec.Epochs $"{r.Id}: one epoch row per epoch"
    Expect.isEmpty (subfolders (Layout.partialRoot results)) "no work folders left"

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

[<Tests>]
let registryTests =
    testList "Experiments.Registry" [
        test "a started run is 'running' with no results until Complete commits them all at once" {
            use dir = new TempDir()
            let registry = Registry.Open dir.Path
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
            use dir = new TempDir()
            let registry = Registry.Open dir.Path
            registry.MarkRunning("bbbbbbbbbbbb", "s", "s/bbbbbbbbbbbb", tinySpec, "engine-test", 123L)
            registry.RecordEpoch("bbbbbbbbbbbb", (metricsOf "bbbbbbbbbbbb" 1).History[0])
            do
                // Sabotage: the third epoch row cannot be inserted.
                use connection = new SqliteConnection($"Data Source={registry.Path};Pooling=False")
                connection.Open()
                use cmd = connection.CreateCommand()
                cmd.CommandText <- "CREATE TRIGGER sabotage BEFORE INSERT ON epochs WHEN NEW.epoch = 3 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                cmd.ExecuteNonQuery() |> ignore
            Expect.throwsT<SqliteException> (fun () -> registry.Complete(metricsOf "bbbbbbbbbbbb" 3, "s/bbbbbbbbbbbb")) "the commit fails"
            let row = registry.TryGet "bbbbbbbbbbbb" |> Option.get
            Expect.equal row.Status "running" "still running"
            Expect.isNone row.FinalTestAccuracy "no final accuracy"
            Expect.equal (registry.Epochs "bbbbbbbbbbbb" |> List.map (fun m -> m.Epoch)) [ 1 ] "the streamed epoch only"
        }

        test "sweep membership and definitions are kept, and ids can be abbreviated" {
            use dir = new TempDir()
            let registry = Registry.Open dir.Path
            let sweep = tinySweep ()
            let ids = Sweep.expand sweep |> List.map (fun r -> r.Id)
            registry.RecordSweep(sweep, ids)
            Expect.sequenceEqual (registry.Members "tiny") ids "members in order"
            Expect.equal (registry.SweepDefinition "tiny" |> Option.map (fun d -> d.Text)) (Some tinySweepText) "definition"
            registry.MarkRunning(ids[0], "tiny", "tiny/" + ids[0], tinySpec, "e", 1L)
            Expect.equal (registry.Find(ids[0].Substring(0, 5)) |> List.map (fun r -> r.Id)) [ ids[0] ] "prefix"
            Expect.isEmpty (registry.Find "%") "LIKE wildcards are literal"
        }
    ]

[<Tests>]
let runnerTests =
    testSequenced <| testList "Experiments.Runner" [
        test "a sweep killed mid-run restarts, loses at most an epoch, and ends with every run exactly once" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            // Kill (cancel) the sweep as soon as the second run has finished its first epoch.
            use cancel = new CancellationTokenSource()
            let log (line: string) = if line.StartsWith "[2/4" && line.Contains "epoch 1/2" then cancel.Cancel()
            let first = { quiet dir.Path with Log = log; Cancel = cancel.Token }
            Expect.throwsT<OperationCanceledException> (fun () -> Runner.runSweep first sweep |> ignore) "interrupted"
            let registry = Registry.Open dir.Path
            let runs = Sweep.expand sweep
            let interrupted = runs[1].Id
            Expect.equal (registry.TryGet runs[0].Id |> Option.map (fun r -> r.Status)) (Some "complete") "first run filed"
            Expect.equal (registry.TryGet interrupted |> Option.map (fun r -> r.Status)) (Some "running") "second run not complete"
            Expect.isFalse (Directory.Exists(Layout.runDir dir.Path "tiny" interrupted)) "no finished folder for it"
            Expect.isTrue (File.Exists(Path.Combine(Layout.workDir dir.Path interrupted, Layout.CheckpointFile))) "its epoch-1 checkpoint is kept"

            let resumedLines = Collections.Concurrent.ConcurrentBag<string>()
            let outcome = Runner.runSweep { quiet dir.Path with Log = resumedLines.Add } sweep
            Expect.equal (outcome.Count((=) AlreadyDone)) 1 "the finished run is skipped"
            Expect.equal (outcome.Count((=) Trained)) 3 "the rest trained"
            Expect.isTrue (resumedLines |> Seq.exists (fun l -> l.Contains interrupted && l.Contains "resuming after epoch 1")) "resumed from its checkpoint"
            Expect.isTrue outcome.Complete "complete"
            expectWholeSweep dir.Path sweep

            // The resumed run's numbers are those of an uninterrupted run.
            use fresh = new TempDir()
            Runner.runSweep { quiet fresh.Path with Shard = Shard.parse "2/4" } sweep |> ignore
            let a = RunFiles.readMetrics (Layout.runDir dir.Path "tiny" interrupted)
            let b = RunFiles.readMetrics (Layout.runDir fresh.Path "tiny" interrupted)
            Expect.equal (numbers a.History) (numbers b.History) "resume is bit-identical"
            Expect.equal a.Test.Confusion b.Test.Confusion "same confusion matrix"

            // Running it again trains nothing.
            let again = Runner.runSweep (quiet dir.Path) sweep
            Expect.equal (again.Count((=) AlreadyDone)) 4 "nothing to do"
        }

        test "a run killed after its last file but before the registry commit is filed, not retrained" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            let only = { quiet dir.Path with Shard = Shard.parse "1/4" }
            Runner.runSweep only sweep |> ignore
            let id = (Sweep.expand sweep |> List.item 0).Id
            // Undo the commit: the folder is finished, the registry does not know.
            File.Delete(Layout.database dir.Path)
            let outcome = Runner.runSweep only sweep
            Expect.equal (outcome.Outcomes |> List.map snd) [ Adopted ] "registered from disk"
            Expect.equal ((Registry.Open dir.Path).TryGet id).Value.Status "complete" "complete again"
            // And killed between writing metrics.json and the rename: only the rename is left.
            let finalDir = Layout.runDir dir.Path "tiny" id
            Directory.CreateDirectory(Layout.partialRoot dir.Path) |> ignore
            Directory.Move(finalDir, Layout.workDir dir.Path id)
            File.Delete(Layout.database dir.Path)
            let lines = Collections.Concurrent.ConcurrentBag<string>()
            let outcome = Runner.runSweep { only with Log = lines.Add } sweep
            Expect.equal (outcome.Outcomes |> List.map snd) [ Trained ] "filed by the runner"
            Expect.isTrue (lines |> Seq.exists (fun l -> l.Contains "filing it")) "without training"
            Expect.isFalse (lines |> Seq.exists (fun l -> l.Contains "epoch 1/")) "no epoch ran"
            Expect.isTrue (Layout.isFinished finalDir) "in place"
        }

        test "a diverged run (NaN loss) is filed and reported like any other" {
            use dir = new TempDir()
            let sweep =
                Sweep.parse "wild" """{ "base": { "preset": "light", "width": 0.25, "epochs": 1, "validation": 40,
                                                 "activation": "swish", "optimizer": "nesterov", "schedule": "constant" },
                                        "grid": { "learningRate": [1e30] } }"""
            let outcome = Runner.runSweep (options dir.Path) sweep
            Expect.equal (outcome.Outcomes |> List.map snd) [ Trained ] "trained, not failed"
            let row = (Registry.Open dir.Path).Runs() |> List.exactlyOne
            Expect.equal row.Status "complete" "complete"
            let metrics = RunFiles.readMetrics (Path.Combine(dir.Path, row.Folder))
            Expect.isFalse (Double.IsFinite metrics.History[0].TrainLoss) $"the loss really diverged: {metrics.History[0]}"
            Expect.isTrue (File.Exists(Path.Combine(dir.Path, row.Folder, Layout.ReportFile))) "its report"
            Expect.equal ((Registry.Open dir.Path).Epochs row.Id |> List.map (fun m -> Double.IsFinite m.TrainLoss)) [ false ] "NaN kept in the registry"
        }

        test "a run another process is training is skipped, not trained twice" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            let run = (Sweep.expand sweep |> List.item 0)
            Directory.CreateDirectory(Layout.partialRoot dir.Path) |> ignore
            use held = new FileStream(Layout.lockFile dir.Path run.Id, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
            let registry = Registry.Open dir.Path
            Expect.equal (Runner.runOne (quiet dir.Path) registry "tiny" run ignore) Busy "locked"
            Expect.isNone (registry.TryGet run.Id) "untouched"
        }

        test "shards on separate machines merge into one registry with every run once" {
            use a = new TempDir()
            use b = new TempDir()
            let sweep = tinySweep ()
            let shard1 = Runner.runSweep { quiet a.Path with Shard = Shard.parse "1/2" } sweep
            let shard2 = Runner.runSweep { quiet b.Path with Shard = Shard.parse "2/2" } sweep
            Expect.isFalse shard1.Complete "half a sweep is not complete"
            Expect.equal (shard1.Selected + shard2.Selected) 4 "the shards cover the sweep"
            let merged = Merge.run a.Path [ b.Path ] ignore
            Expect.equal merged.Imported 2 "the other shard's runs"
            expectWholeSweep a.Path sweep
            Expect.isTrue (Runner.writeSummary a.Path (Registry.Open a.Path) "tiny") "the merged sweep is complete"
            let again = Merge.run a.Path [ Layout.database b.Path ] ignore
            Expect.equal (again.Imported, again.AlreadyPresent) (0, 2) "merging twice changes nothing"
            expectWholeSweep a.Path sweep
        }

        test "a rerun from the recorded spec reproduces the metrics exactly, and a tampered record is caught" {
            use dir = new TempDir()
            let sweep = tinySweep ()
            Runner.runSweep { quiet dir.Path with Shard = Shard.parse "3/4" } sweep |> ignore
            let id = (Sweep.expand sweep |> List.item 2).Id
            let r = Reproduce.run (quiet dir.Path) (id.Substring(0, 6)) ignore
            Expect.isTrue r.Matches $"differences: {r.Differences}"
            Expect.equal r.TestAccuracy r.Recorded.Test.Accuracy "same final accuracy"
            let path = Path.Combine(Layout.runDir dir.Path "tiny" id, Layout.MetricsFile)
            let recorded = RunFiles.readMetrics (Path.GetDirectoryName path)
            let tampered = { recorded with Test = EvaluationSummary(recorded.Test.Loss, recorded.Test.Accuracy + 0.01, recorded.Test.Confusion, recorded.Test.PerClass, recorded.Test.WorstMistakes) }
            File.WriteAllText(path, Json.serialize tampered)
            let r2 = Reproduce.run (quiet dir.Path) id ignore
            Expect.isFalse r2.Matches "the difference is found"
            Expect.stringContains (String.Join("\n", r2.Differences)) "final test accuracy" "and named"
        }
    ]
