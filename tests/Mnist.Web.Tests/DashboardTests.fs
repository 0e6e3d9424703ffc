/// The dashboard's API: runs read from an experiments registry, reports served read-only,
/// training jobs followed through server-sent events, the default model.
module Mnist.Web.Tests.DashboardTests

open System
open System.IO
open System.Net.Http
open System.Text.Json
open Expecto
open Mnist.Experiments
open Mnist.Web
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http

/// A complete run's metrics as a finished run writes them (one epoch).
let private finished (id: string) (accuracy: float) : RunMetrics =
    let epoch = Mnist.Core.Training.EpochMetrics(1, 0.3, 0.9, Nullable(), Nullable(), 0.05, accuracy, 33.5, 1800.0, 0.05f)
    { Id = id
      Engine = "core"
      Sweep = "lr-sweep"
      Spec = ExperimentSpec.defaults
      Parameters = 421642L
      History = [| epoch |]
      Test = Mnist.Core.Training.EvaluationSummary(0.05, accuracy, Array.init 10 (fun _ -> Array.zeroCreate 10), [], [])
      StoppedEarly = false
      TrainSeconds = 33.5
      WallSeconds = 40.0
      FinishedAt = DateTimeOffset.UtcNow
      Host = "test" }

/// A results folder with a registry of three runs, written through the registry: the best has
/// no model file left, the second best has its model, report and sweep report; one was started
/// and left (nobody holds its lock: interrupted).
let private resultsWithRuns () =
    let results = scratch "registry"
    let registry = Registry.Open results
    registry.Complete(finished "aaaa1111" 0.9931, "lr-sweep/aaaa1111")
    registry.Complete(finished "bbbb2222" 0.9886, "lr-sweep/bbbb2222")
    registry.MarkRunning("cccc3333", "lr-sweep", "lr-sweep/cccc3333", ExperimentSpec.defaults, "core", 421642L)
    let run = Directory.CreateDirectory(Path.Combine(results, "lr-sweep", "bbbb2222")).FullName
    File.Copy(modelPath.Value, Path.Combine(run, "model.safetensors"))
    File.WriteAllText(Path.Combine(run, "report.html"), "<html><body>run report</body></html>")
    File.WriteAllText(Path.Combine(results, "lr-sweep", "index.html"), "<html><body>sweep report</body></html>")
    Directory.CreateDirectory(Path.Combine(results, "lr-sweep", "aaaa1111")) |> ignore
    File.WriteAllText(Path.Combine(results, ".partial-secret.html"), "hidden")
    File.WriteAllText(Path.Combine(Path.GetDirectoryName results, "outside.html"), "outside")
    results

/// Reads server-sent events until the stream ends: (event, data) pairs.
let readEvents (client: HttpClient) (path: string) =
    task {
        use! stream = client.GetStreamAsync(path: string)
        use reader = new StreamReader(stream)
        let events = ResizeArray<string * JsonElement>()
        let mutable kind = "message"
        let mutable finished = false
        while not finished do
            let! line = reader.ReadLineAsync()
            match line with
            | null -> finished <- true
            | l when l.StartsWith "event: " -> kind <- l.Substring 7
            | l when l.StartsWith "data: " ->
                events.Add(kind, (JsonDocument.Parse(l.Substring 6)).RootElement)
                if kind = "done" then finished <- true
            | _ -> ()
        return List.ofSeq events
    }

[<Tests>]
let registry =
    testList "web dashboard"
        [ testT "runs come from the registry with links to their reports" <| fun () -> task {
              let results = resultsWithRuns ()
              use f = factory [ "model", modelPath.Value; "results", results ]
              let client = f.CreateClient()
              let! answer = get client "/api/runs"
              Expect.equal answer.Status 200 answer.Text
              let runs = [ for r in answer.Body.GetProperty("runs").EnumerateArray() -> r ]
              Expect.hasLength runs 3 "three runs"
              let byId id = runs |> List.find (fun r -> r.GetProperty("run").GetProperty("id").GetString() = id)
              let good = byId "bbbb2222"
              Expect.equal (good.GetProperty("reportUrl").GetString()) "/results/lr-sweep/bbbb2222/report.html" "report link"
              Expect.equal (good.GetProperty("sweepReportUrl").GetString()) "/results/lr-sweep/index.html" "sweep report link"
              Expect.isTrue (good.GetProperty("hasModel").GetBoolean()) "has its model"
              Expect.floatClose Accuracy.high (good.GetProperty("run").GetProperty("finalTestAccuracy").GetDouble()) 0.9886 "accuracy"
              Expect.isFalse ((byId "aaaa1111").GetProperty("hasModel").GetBoolean()) "model file gone"
              let left = byId "cccc3333"
              Expect.equal (left.GetProperty("run").GetProperty("status").GetString()) "running" "the registry says running"
              Expect.equal (left.GetProperty("state").GetString()) "interrupted" "but nobody trains it"
              Expect.isTrue (left.GetProperty("resumable").GetBoolean()) "so it can be resumed"
              Expect.isFalse (good.GetProperty("resumable").GetBoolean()) "a complete run is not"
              Expect.equal (good.GetProperty("run").GetProperty("spec").GetProperty("preset").GetString()) "classic" "its settings"
          }

          testT "a registry file that is not one lists nothing and says why, without failing" <| fun () -> task {
              let results = scratch "bad-registry"
              File.WriteAllText(Layout.database results, "not a database, just text that is long enough to look like something")
              use f = factory [ "model", modelPath.Value; "results", results ]
              let! answer = get (f.CreateClient()) "/api/runs"
              Expect.equal answer.Status 200 answer.Text
              Expect.equal (answer.Body.GetProperty("runs").GetArrayLength()) 0 "no runs"
              Expect.isTrue (answer.Has "problem") $"the reason is given: {answer.Text}"
          }

          testT "reports are served read-only: no models, no registry, nothing hidden or outside" <| fun () -> task {
              let results = resultsWithRuns ()
              use f = factory [ "model", modelPath.Value; "results", results ]
              let client = f.CreateClient()
              let status (path: string) = task { use! r = client.GetAsync path in return int r.StatusCode }
              let! report = client.GetStringAsync "/results/lr-sweep/bbbb2222/report.html"
              Expect.stringContains report "run report" "the report"
              let! sweep = status "/results/lr-sweep/"
              Expect.equal sweep 200 "a folder serves its index.html"
              for path in [ "/results/runs.db"; "/results/lr-sweep/bbbb2222/model.safetensors"; "/results/.partial-secret.html"
                            "/results/../outside.html"; "/results/%2e%2e/outside.html"; "/results/lr-sweep/%2e%2e/%2e%2e/outside.html"
                            "/results/lr-sweep/..%2f..%2foutside.html"; "/results/lr-sweep%5c..%5c..%5coutside.html"; "/results/nothing.html" ] do
                  let! code = status path
                  Expect.equal code 404 path
          }

          testT "with no model named, the registry's best run that still has its model is served" <| fun () -> task {
              let results = resultsWithRuns ()
              use f = factory [ "results", results ]
              let client = f.CreateClient()
              let! model = get client "/api/model"
              Expect.equal (model.Str "path") (Path.GetFullPath(Path.Combine(results, "lr-sweep", "bbbb2222", "model.safetensors"))) "bbbb2222's model"
          }

          testT "on a fresh clone (no model, empty results) the classic network is trained for one epoch first, saying so" <| fun () -> task {
              let model = modelPath.Value
              match defaultModelResults with
              | None -> skiptest "MNIST_WEB_TEST_MODEL named a ready model: nothing was trained"
              | Some results ->
                  Expect.equal model (DefaultModel.ClassicPath results) "saved where the next start finds it"
                  let said = String.Join("\n", defaultModelLog)
                  Expect.stringContains said "training the classic network for one epoch first" "says so before training"
                  Expect.stringContains said "saved" "and when it is done"
                  let! answer = get (snd api.Value) "/api/model"
                  Expect.isGreaterThan (answer.Body.GetProperty("testAccuracy").GetDouble()) 0.98 "a good model"
          }

          testT "with no model and no registry, a model left in results/models/classic is served" <| fun () -> task {
              let results = scratch "classic"
              let path = DefaultModel.ClassicPath results
              Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
              File.Copy(modelPath.Value, path)
              use f = factory [ "results", results ]
              let! model = get (f.CreateClient()) "/api/model"
              Expect.equal (model.Str "path") (Path.GetFullPath path) "the classic model"
          }

          testT "a training job streams its progress, lands its model, and can be served" <| fun () -> task {
              let results = scratch "jobs"
              use f = factory [ "model", modelPath.Value; "results", results; "data", mnistDir ]
              let client = f.CreateClient()
              let! started = post client "/api/jobs" (json """{"preset": "light", "limit": 2048, "epochs": 2, "batchSize": 128}""")
              Expect.equal started.Status 202 started.Text
              let id = started.Str "id"
              let! busy = post client "/api/jobs" (json """{"preset": "light", "limit": 256}""")
              Expect.equal busy.Status 409 "one job at a time"
              Expect.equal (busy.Str "code") ApiErrorCode.Busy busy.Text
              let! events = readEvents client $"/api/jobs/{id}/events"
              let kinds = events |> List.map fst
              Expect.contains kinds "status" "status events"
              Expect.contains kinds "progress" "progress events"
              Expect.equal (kinds |> List.filter ((=) "epoch") |> List.length) 2 "one event per epoch"
              let _, done' = List.last events
              Expect.equal (done'.GetProperty("status").GetString()) "finished" $"finished: {done'}"
              let modelFile = done'.GetProperty("modelPath").GetString()
              Expect.isTrue (File.Exists modelFile) "the model was saved"
              Expect.stringStarts modelFile (Path.GetFullPath(Path.Combine(results, TrainingJobs.Sweep))) "in the dashboard sweep's folder"
              // A late reader replays the whole story.
              let! replay = readEvents client $"/api/jobs/{id}/events"
              Expect.equal (replay |> List.filter (fst >> (=) "epoch") |> List.length) 2 "replayed epochs"
              let! used = post client "/api/model/use" (json $"{{\"job\": \"{id}\"}}")
              Expect.equal used.Status 200 used.Text
              let! model = get client "/api/model"
              Expect.equal (model.Str "name") "light" "the job's model is served now"
              let! answer = predict client (pixelsJson (testPixels 0))
              Expect.equal answer.Status 200 answer.Text
          }

          testT "a job is a run of the registry's dashboard sweep, and asking for it again trains nothing" <| fun () -> task {
              let results = scratch "job-runs"
              use f = factory [ "model", modelPath.Value; "results", results; "data", mnistDir ]
              let client = f.CreateClient()
              let request = """{"preset": "light", "limit": 500, "epochs": 1, "batchSize": 50}"""
              let! started = post client "/api/jobs" (json request)
              Expect.equal started.Status 202 started.Text
              let runId = started.Str "runId"
              let expectedId =
                  ExperimentSpec.runId { ExperimentSpec.defaults with Preset = "light"; Limit = Some 500; Epochs = 1; BatchSize = 50 }
              Expect.equal runId expectedId "the run id hashes the spec, as for a sweep run"
              let jobId = started.Str "id"
              let! events = readEvents client $"/api/jobs/{jobId}/events"
              Expect.contains (events |> List.map fst) "progress" "per-batch progress is streamed"
              let _, done' = List.last events
              Expect.equal (done'.GetProperty("status").GetString()) "finished" $"finished: {done'}"
              Expect.equal (done'.GetProperty("runId").GetString()) runId "the done event names the run"
              let registry = Registry.Open results
              let row = registry.TryGet runId |> Option.defaultWith (fun () -> failtest "the run is in the registry")
              Expect.isTrue row.IsComplete "complete"
              Expect.equal row.Sweep TrainingJobs.Sweep "filed under the dashboard sweep"
              Expect.equal row.Folder $"dashboard/{runId}" "in the sweep's folder"
              Expect.equal row.Spec.Limit (Some 500) "with the request's limit"
              Expect.equal row.EpochsDone 1 "one epoch"
              Expect.sequenceEqual (registry.Members TrainingJobs.Sweep) [ runId ] "a member of the sweep"
              Expect.floatClose Accuracy.high (done'.GetProperty("testAccuracy").GetDouble()) row.FinalTestAccuracy.Value "the registry's accuracy"
              let modelFile = done'.GetProperty("modelPath").GetString()
              Expect.equal modelFile (Path.GetFullPath(Path.Combine(results, "dashboard", runId, "model.safetensors"))) "the run's model"
              Expect.isFalse (Directory.Exists(Path.Combine(results, ".partial", runId))) "its work folder was filed"
              let reportUrl = done'.GetProperty("reportUrl").GetString()
              Expect.equal reportUrl $"/results/dashboard/{runId}/report.html" "the run report"
              let! report = client.GetAsync reportUrl
              Expect.equal (int report.StatusCode) 200 "the report is served"
              let! sweepReport = client.GetAsync "/results/dashboard/index.html"
              Expect.equal (int sweepReport.StatusCode) 200 "and the sweep's"
              let! runs = get client "/api/runs"
              let listed = [ for r in runs.Body.GetProperty("runs").EnumerateArray() -> r.GetProperty("run").GetProperty("id").GetString() ]
              Expect.equal listed [ runId ] "the runs table lists it"
              let written = File.GetLastWriteTimeUtc modelFile
              // The same spec again: found complete, nothing trained, the same model offered.
              let! again = post client "/api/jobs" (json request)
              Expect.equal again.Status 202 again.Text
              Expect.equal (again.Str "runId") runId "the same run"
              let againId = again.Str "id"
              let! events = readEvents client $"/api/jobs/{againId}/events"
              let kinds = events |> List.map fst
              Expect.isFalse (List.contains "progress" kinds || List.contains "epoch" kinds) $"nothing trained: {kinds}"
              let _, done' = List.last events
              Expect.equal (done'.GetProperty("status").GetString()) "finished" $"finished: {done'}"
              Expect.stringContains (done'.GetProperty("note").GetString()) "already complete" "says so"
              Expect.equal (done'.GetProperty("modelPath").GetString()) modelFile "offers that run's model"
              Expect.equal (File.GetLastWriteTimeUtc modelFile) written "the model was not rewritten"
              Expect.sequenceEqual (registry.Members TrainingJobs.Sweep) [ runId ] "still one member"
              let! used = post client "/api/model/use" (json ("{\"job\": \"" + againId + "\"}"))
              Expect.equal used.Status 200 used.Text
          }

          testT "a job can be cancelled, leaving no run that claims to be complete" <| fun () -> task {
              let results = scratch "cancel"
              use f = factory [ "model", modelPath.Value; "results", results; "data", mnistDir ]
              let client = f.CreateClient()
              let! started = post client "/api/jobs" (json """{"preset": "classic", "epochs": 3}""")
              let id = started.Str "id"
              let runId = started.Str "runId"
              // Cancel once it trains (its row says "running"), not while the data loads.
              let clock = Diagnostics.Stopwatch.StartNew()
              let mutable training = false
              while not training && clock.Elapsed < TimeSpan.FromMinutes 2.0 do
                  let! job = get client $"/api/jobs/{id}"
                  training <- job.Has "progress"
                  if not training then do! Threading.Tasks.Task.Delay 50
              Expect.isTrue training "the job got to training"
              let! cancelled = post client $"/api/jobs/{id}/cancel" (json "{}")
              Expect.equal cancelled.Status 202 cancelled.Text
              let! events = readEvents client $"/api/jobs/{id}/events"
              let _, done' = List.last events
              Expect.equal (done'.GetProperty("status").GetString()) "cancelled" $"{done'}"
              let row = (Registry.Open results).TryGet runId
              Expect.isSome row "the run is registered as started"
              Expect.equal row.Value.Status "running" "but not complete"
              Expect.isFalse (File.Exists(Path.Combine(results, "dashboard", runId, "metrics.json"))) "no finished folder"
              let! runs = get client "/api/runs"
              let listed = [ for r in runs.Body.GetProperty("runs").EnumerateArray() -> r.GetProperty("run").GetProperty("status").GetString(), r.GetProperty("state").GetString() ]
              Expect.equal listed [ "running", "interrupted" ] "the runs table does not call it complete: it is interrupted, resumable"
          }

          testT "bad job requests are refused with a reason" <| fun () -> task {
              let client = snd api.Value
              for body, status, code in
                  [ """{"preset": "huge"}""", 400, ApiErrorCode.BadSpec
                    """{"optimizer": "lbfgs"}""", 400, ApiErrorCode.BadSpec
                    """{"epochs": 0}""", 400, ApiErrorCode.BadSpec
                    """{"learningRate": -1}""", 400, ApiErrorCode.BadSpec
                    """{"epochz": 3}""", 400, ApiErrorCode.BadJson
                    """{"epochs": "many"}""", 400, ApiErrorCode.BadJson ] do
                  let! answer = post client "/api/jobs" (json body)
                  Expect.equal answer.Status status $"{body}: {answer.Text}"
                  Expect.equal (answer.Str "code") code body
              let! form = post client "/api/jobs" (raw (Some "application/x-www-form-urlencoded") "preset=classic"B)
              Expect.equal form.Status 415 "a cross-site form cannot start a job"
              let! unknown = get client "/api/jobs/nope/events"
              Expect.equal unknown.Status 404 unknown.Text
          } ]
