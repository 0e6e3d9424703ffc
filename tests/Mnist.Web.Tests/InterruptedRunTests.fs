/// No stale runs: a dashboard run whose server is killed shows as interrupted once the server is
/// back, resumes from its checkpoint to the numbers of an uninterrupted run, or is discarded; and
/// the dashboard works the same on a PostgreSQL registry.
module Mnist.Web.Tests.InterruptedRunTests

open System
open System.IO
open System.Net.Http
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Web
open Mnist.TestProcesses
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http
open Mnist.Web.Tests.DashboardTests

/// `mnist serve` as a real process on a free port, with the address it announces.
let private serve (results: string) =
    let server =
        startMnist [ "serve"; "--port"; "0"; "--model"; modelPath.Value; "--results"; results; "--data-dir"; mnistDir ] [ "MNIST_REGISTRY", null ]
    let line = server.WaitForLine((fun l -> l.StartsWith "serving "), TimeSpan.FromMinutes 2.0)
    let url = Regex.Match(line, @" at (http://[^ ]+?)/ ").Groups[1].Value
    server, new HttpClient(BaseAddress = Uri url, Timeout = TimeSpan.FromMinutes 5.0)

/// Polls a job until the predicate holds on its snapshot.
let private waitForJob (client: HttpClient) (id: string) (until: JsonElement -> bool) =
    task {
        let clock = Diagnostics.Stopwatch.StartNew()
        let mutable snapshot = None
        while snapshot.IsNone do
            let! job = get client $"/api/jobs/{id}"
            if until job.Body then snapshot <- Some job.Body
            elif clock.Elapsed > TimeSpan.FromMinutes 5.0 then failtest $"the job never got there: {job.Text}"
            else do! Threading.Tasks.Task.Delay 100
        return snapshot.Value
    }

/// The run as the runs list shows it.
let private listed (client: HttpClient) (runId: string) =
    task {
        let! runs = get client "/api/runs"
        return runs.Body.GetProperty("runs").EnumerateArray() |> Seq.tryFind (fun r -> r.GetProperty("run").GetProperty("id").GetString() = runId)
    }

/// A run's numbers without timings.
let private numbers (metrics: RunMetrics) =
    [ for m in metrics.History -> m.Epoch, m.TrainLoss, m.TrainAccuracy, m.ValidationLoss, m.ValidationAccuracy, m.TestLoss, m.TestAccuracy, m.LastLearningRate ],
    metrics.Test.Confusion

/// Long enough that the server is killed after the first epoch with three still to go, even on a
/// fast machine (3,000 images an epoch once finished the whole run before a 100 ms poll saw epoch 1).
let private request = """{"preset": "light", "limit": 12000, "validation": 500, "epochs": 4, "batchSize": 100}"""

[<Tests>]
let interrupted =
    testList "web dashboard interrupted runs"
        [ testT "killing `mnist serve` mid-run leaves the run interrupted; resumed from the dashboard it ends as an uninterrupted run" <| fun () -> task {
              let results = scratch "killed"
              let first, client = serve results
              let! started = post client "/api/jobs" (json request)
              Expect.equal started.Status 202 started.Text
              let runId = started.Str "runId"
              let checkpoint = Path.Combine(Layout.workDir results runId, Layout.CheckpointFile)
              let! _ = waitForJob client (started.Str "id") (fun job -> job.GetProperty("epochs").GetArrayLength() >= 1 && File.Exists checkpoint)
              first.Kill()
              (first :> IDisposable).Dispose()
              let registry = Registry.OpenExisting(RegistryLocation.InResults results, results)
              let row = (registry.TryGet runId).Value
              Expect.equal row.Status "running" "the registry still says running"
              Expect.equal (registry.StateOf row) RunState.Interrupted "but nobody holds its lock"

              let second, client = serve results
              use _ = second
              let! before = listed client runId
              Expect.isSome before "listed after the restart"
              Expect.equal (before.Value.GetProperty("state").GetString()) "interrupted" "shown as interrupted"
              Expect.isTrue (before.Value.GetProperty("resumable").GetBoolean()) "and resumable"
              let! resumed = post client $"/api/runs/{runId}/resume" (json "{}")
              Expect.equal resumed.Status 202 resumed.Text
              Expect.equal (resumed.Str "runId") runId "the same run"
              let! events = readEvents client ("/api/jobs/" + resumed.Str "id" + "/events")
              let _, done' = List.last events
              Expect.equal (done'.GetProperty("status").GetString()) "finished" $"{done'}"
              let logged = [ for kind, data in events do if kind = "log" then yield data.GetProperty("line").GetString() ]
              Expect.exists logged (fun l -> l.Contains "resuming after epoch") $"resumed from its checkpoint: {logged}"
              let! after = listed client runId
              Expect.equal (after.Value.GetProperty("state").GetString()) "complete" "complete now"
              let! again = post client $"/api/runs/{runId}/resume" (json "{}")
              Expect.equal again.Status 409 "a complete run is not resumed"

              // The same request trained in one go, on a server that was never interrupted.
              let twin = scratch "uninterrupted"
              use f = factory [ "model", modelPath.Value; "results", twin; "data", mnistDir ]
              let twinClient = f.CreateClient()
              let! twinJob = post twinClient "/api/jobs" (json request)
              Expect.equal (twinJob.Str "runId") runId "the same run id"
              let! twinEvents = readEvents twinClient ("/api/jobs/" + twinJob.Str "id" + "/events")
              Expect.equal ((snd (List.last twinEvents)).GetProperty("status").GetString()) "finished" "trained"
              let resumedMetrics = RunFiles.readMetrics (Path.Combine(results, TrainingJobs.Sweep, runId))
              let twinMetrics = RunFiles.readMetrics (Path.Combine(twin, TrainingJobs.Sweep, runId))
              Expect.equal resumedMetrics.History.Length 4 "four epochs"
              Expect.equal (numbers resumedMetrics) (numbers twinMetrics) "every number as in the uninterrupted run"
          }

          testT "an interrupted run can be discarded from the dashboard, with its checkpoint; a busy or unknown one cannot" <| fun () -> task {
              let results = scratch "discard"
              use f = factory [ "model", modelPath.Value; "results", results; "data", mnistDir ]
              let client = f.CreateClient()
              // 100 epochs: it is cancelled after the first, so it must still be training then, on any machine.
              let! started = post client "/api/jobs" (json """{"preset": "light", "limit": 3000, "epochs": 100, "batchSize": 100}""")
              let runId = started.Str "runId"
              let work = Layout.workDir results runId
              let! _ = waitForJob client (started.Str "id") (fun job -> job.GetProperty("epochs").GetArrayLength() >= 1)
              let! busy = post client $"/api/runs/{runId}/discard" (json "{}")
              Expect.equal busy.Status 409 $"being trained: {busy.Text}"
              let! _ = post client ("/api/jobs/" + started.Str "id" + "/cancel") (json "{}")
              let! _ = waitForJob client (started.Str "id") (fun job -> job.GetProperty("status").GetString() = "cancelled")
              let! stale = listed client runId
              Expect.equal (stale.Value.GetProperty("state").GetString()) "interrupted" "a cancelled run is interrupted"
              Expect.isTrue (Directory.Exists work) "with its checkpoint"
              let! discarded = post client $"/api/runs/{runId}/discard" (json "{}")
              Expect.equal discarded.Status 200 discarded.Text
              let! gone = listed client runId
              Expect.isNone gone "no longer listed"
              Expect.isFalse (Directory.Exists work) "its checkpoint is gone"
              let! unknown = post client $"/api/runs/{runId}/discard" (json "{}")
              Expect.equal unknown.Status 404 unknown.Text
              let! unknownResume = post client "/api/runs/nope/resume" (json "{}")
              Expect.equal unknownResume.Status 404 unknownResume.Text
          }

          testT "on a PostgreSQL registry the dashboard trains into it and lists its runs" <| fun () -> task {
              let server = Mnist.TestPostgres.require ()
              let url = server.NewDatabase()
              let results = scratch "postgres"
              use f = factory [ "model", modelPath.Value; "results", results; "data", mnistDir; "registry", url ]
              let client = f.CreateClient()
              let! started = post client "/api/jobs" (json """{"preset": "light", "limit": 500, "epochs": 1, "batchSize": 50}""")
              Expect.equal started.Status 202 started.Text
              let runId = started.Str "runId"
              let! events = readEvents client ("/api/jobs/" + started.Str "id" + "/events")
              Expect.equal ((snd (List.last events)).GetProperty("status").GetString()) "finished" "trained"
              let! runs = get client "/api/runs"
              Expect.stringStarts (runs.Str "registry") $"postgres://{server.User}@127.0.0.1:{server.Port}/" "the server, without its password"
              let! run = listed client runId
              Expect.equal (run.Value.GetProperty("state").GetString()) "complete" "listed complete"
              let row = (Registry.OpenExisting(RegistryLocation.Parse url, results).TryGet runId).Value
              Expect.isTrue row.IsComplete "complete in PostgreSQL"
              Expect.isFalse (File.Exists(Layout.database results)) "no SQLite registry beside it"
          } ]
