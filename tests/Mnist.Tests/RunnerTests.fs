/// The registry's atomicity and the runner's promises: nothing claims to be finished before it
/// is, a killed sweep resumes with no missing and no duplicate runs, shards merge, reruns match.
module Mnist.Tests.RunnerTests

open System
open System.IO
open System.Threading
open Expecto
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Tests.TestData
open Mnist.Tests.ExperimentFixtures
open Mnist.Tests.StoreFixtures
open Mnist.Tests.RegistryTests

let private quiet results = { options results with Reports = false }

/// Every run of the sweep is complete once, with its folder, and nothing else is left over.
let private expectWholeSweep (registry: Registry) (results: string) (sweep: SweepDefinition) =
    let planned = Sweep.expand sweep |> List.map (fun r -> r.Id) |> List.sort
    let rows = registry.Runs()
    Expect.sequenceEqual (rows |> List.map (fun r -> r.Id) |> List.sort) planned "one registry row per planned run"
    Expect.isTrue (rows |> List.forall (fun r -> r.IsComplete)) "all complete"
    Expect.sequenceEqual (subfolders (Layout.sweepDir results sweep.Name)) planned "one folder per run, no strays"
    for r in rows do
        Expect.isTrue (Layout.isFinished (Path.Combine(results, r.Folder))) $"{r.Id} has its files"
        Expect.equal (registry.Epochs r.Id).Length r.Spec.Epochs $"{r.Id}: one epoch row per epoch"
    Expect.isEmpty (subfolders (Layout.partialRoot results)) "no work folders left"

[<Tests>]
let runnerTests =
    testSequenced <| testList "Experiments.Runner" [
        for store in stores do
            test $"{store.Name}: a sweep killed mid-run restarts, loses at most an epoch, and ends with every run exactly once" {
                use dir = new TempDir()
                let location = store.Fresh dir.Path
                let quiet results = quiet results |> withRegistry location
                let sweep = tinySweep ()
                // Kill (cancel) the sweep as soon as the second run has finished its first epoch.
                use cancel = new CancellationTokenSource()
                let log (line: string) = if line.StartsWith "[2/4" && line.Contains "epoch 1/2" then cancel.Cancel()
                let first = { quiet dir.Path with Log = log; Cancel = cancel.Token }
                Expect.throwsT<OperationCanceledException> (fun () -> Runner.runSweep first sweep |> ignore) "interrupted"
                let registry = Registry.Open(location, dir.Path)
                let runs = Sweep.expand sweep
                let interrupted = runs[1].Id
                Expect.equal (registry.TryGet runs[0].Id |> Option.map (fun r -> r.Status)) (Some "complete") "first run filed"
                Expect.equal (registry.TryGet interrupted |> Option.map (fun r -> r.Status)) (Some "running") "second run not complete"
                Expect.isFalse (Directory.Exists(Layout.runDir dir.Path "tiny" interrupted)) "no finished folder for it"
                Expect.isTrue (File.Exists(Path.Combine(Layout.workDir dir.Path interrupted, Layout.CheckpointFile))) "its epoch-1 checkpoint is kept"
                Expect.equal (registry.StateOf (registry.TryGet interrupted).Value) RunState.Interrupted "interrupted, resumable"
                let report = File.ReadAllText(Reports.SweepReport.write dir.Path registry "tiny")
                Expect.stringContains report "3 still to run, of which 1 interrupted — resumable" "the sweep report says so"

                let resumedLines = Collections.Concurrent.ConcurrentBag<string>()
                let outcome = Runner.runSweep { quiet dir.Path with Log = resumedLines.Add } sweep
                Expect.equal (outcome.Count((=) AlreadyDone)) 1 "the finished run is skipped"
                Expect.equal (outcome.Count((=) Trained)) 3 "the rest trained"
                Expect.isTrue (resumedLines |> Seq.exists (fun l -> l.Contains interrupted && l.Contains "resuming after epoch 1")) "resumed from its checkpoint"
                Expect.isTrue outcome.Complete "complete"
                expectWholeSweep registry dir.Path sweep

                // The resumed run's numbers are those of an uninterrupted run.
                use fresh = new TempDir()
                Runner.runSweep { options fresh.Path with Reports = false; Shard = Shard.parse "2/4" } sweep |> ignore
                let a = RunFiles.readMetrics (Layout.runDir dir.Path "tiny" interrupted)
                let b = RunFiles.readMetrics (Layout.runDir fresh.Path "tiny" interrupted)
                Expect.equal (numbers a.History) (numbers b.History) "resume is bit-identical"
                Expect.equal a.Test.Confusion b.Test.Confusion "same confusion matrix"

                // Running it again trains nothing.
                let again = Runner.runSweep (quiet dir.Path) sweep
                Expect.equal (again.Count((=) AlreadyDone)) 4 "nothing to do"
            }

            test $"{store.Name}: a run another process is training is skipped, not trained twice" {
                use dir = new TempDir()
                let location = store.Fresh dir.Path
                let registry = Registry.Open(location, dir.Path)
                let run = (Sweep.expand (tinySweep ()) |> List.item 0)
                use held = registry.TryLock run.Id |> Option.get
                Expect.equal (Runner.runOne (quiet dir.Path |> withRegistry location) registry "tiny" run ignore) Busy "locked"
                Expect.isNone (registry.TryGet run.Id) "untouched"
            }

            test $"{store.Name}: shards on separate machines merge into one registry with every run once" {
                use a = new TempDir()
                use b = new TempDir()
                let location = store.Fresh a.Path
                let sweep = tinySweep ()
                let shard1 = Runner.runSweep { quiet a.Path with Shard = Shard.parse "1/2"; Registry = Some location } sweep
                let shard2 = Runner.runSweep { quiet b.Path with Shard = Shard.parse "2/2" } sweep
                Expect.isFalse shard1.Complete "half a sweep is not complete"
                Expect.equal (shard1.Selected + shard2.Selected) 4 "the shards cover the sweep"
                let target = Registry.Open(location, a.Path)
                let merged = Merge.run target a.Path [ b.Path ] ignore
                Expect.equal merged.Imported 2 "the other shard's runs"
                expectWholeSweep target a.Path sweep
                Expect.isTrue (Runner.writeSummary a.Path target "tiny") "the merged sweep is complete"
                let again = Merge.run target a.Path [ Layout.database b.Path ] ignore
                Expect.equal (again.Imported, again.AlreadyPresent) (0, 2) "merging twice changes nothing"
                expectWholeSweep target a.Path sweep
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
