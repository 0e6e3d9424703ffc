/// The web app follows ASP.NET Core's conventions: Problem Details for every error, health
/// checks, an OpenAPI description that the real answers match, a concurrency limit that answers
/// overload at once, request logs at a level users choose, ASPNETCORE_URLS, and writes closed to
/// the network without the admin token.
module Mnist.Web.Tests.ConventionTests

open System
open System.Collections.Concurrent
open System.IO
open System.Net.Http
open System.Text.Json
open System.Threading.Tasks
open Expecto
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.TestHost
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Hosting
open Microsoft.Extensions.Logging
open Mnist
open Mnist.Web
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http
open Mnist.Web.Tests.Drawings

let private client () = snd api.Value

let private expectProblem (answer: Answer) (status: int) (code: string) (what: string) =
    Expect.equal answer.Status status $"{what}: status ({answer.Text})"
    Expect.equal answer.ContentType "application/problem+json" $"{what}: a problem"
    Expect.equal (answer.Str "code") code $"{what}: code"
    Expect.equal (answer.Body.GetProperty("status").GetInt32()) status $"{what}: status in the body"

/// A photograph of test digit i, as the page's upload button or curl sends it.
let private photo (i: int) (style: TestImages.PhotoStyle) =
    TestImages.photograph { style with Seed = style.Seed + 100 * i } (TestImages.mnistMask (testSet.Value.Image(i).ToArray()))

// ---- a minimal JSON Schema check, enough for the schemas ASP.NET Core writes -----------------------

/// Why a value does not match a schema of the OpenAPI document (empty: it matches). Properties the
/// answer has but the schema does not list count as mismatches: the description must be complete.
let rec private mismatches (document: JsonElement) (schema: JsonElement) (value: JsonElement) (path: string) : string list =
    match schema.TryGetProperty "$ref" with
    | true, reference ->
        let name = reference.GetString().Split('/') |> Array.last
        mismatches document (document.GetProperty("components").GetProperty("schemas").GetProperty name) value path
    | _ ->
        let types =
            match schema.TryGetProperty "type" with
            | true, t when t.ValueKind = JsonValueKind.String -> [ t.GetString() ]
            | true, t -> [ for x in t.EnumerateArray() -> x.GetString() ]
            | _ -> []
        let fits kind =
            match kind, value.ValueKind with
            | "object", JsonValueKind.Object | "array", JsonValueKind.Array | "string", JsonValueKind.String
            | "boolean", (JsonValueKind.True | JsonValueKind.False) | "null", JsonValueKind.Null | "number", JsonValueKind.Number -> true
            | "integer", JsonValueKind.Number -> fst (value.TryGetInt64())
            | _ -> false
        if not types.IsEmpty && not (List.exists fits types) then [ $"{path}: {value.ValueKind} where the schema says {String.Join('|', types)}" ]
        else
            match value.ValueKind with
            | JsonValueKind.Object ->
                let properties =
                    match schema.TryGetProperty "properties" with
                    | true, p -> [ for x in p.EnumerateObject() -> x.Name, x.Value ] |> Map.ofList
                    | _ -> Map.empty
                let open' = properties.IsEmpty || (match schema.TryGetProperty "additionalProperties" with | true, _ -> true | _ -> false)
                let required =
                    match schema.TryGetProperty "required" with
                    | true, r -> [ for x in r.EnumerateArray() -> x.GetString() ]
                    | _ -> []
                [ for name in required do
                      if not (fst (value.TryGetProperty name)) then yield $"{path}.{name}: required but missing"
                  for member' in value.EnumerateObject() do
                      match properties.TryFind member'.Name with
                      | Some inner -> yield! mismatches document inner member'.Value $"{path}.{member'.Name}"
                      | None when open' -> ()
                      | None -> yield $"{path}.{member'.Name}: not in the description" ]
            | JsonValueKind.Array ->
                match schema.TryGetProperty "items" with
                | true, items -> [ for i, item in Seq.indexed (value.EnumerateArray()) |> Seq.truncate 20 do yield! mismatches document items item $"{path}[{i}]" ]
                | _ -> []
            | _ -> []

/// The schema the document gives for an operation's answer with this status and media type.
let private responseSchema (document: JsonElement) (path: string) (verb: string) (status: int) (media: string) =
    document.GetProperty("paths").GetProperty(path).GetProperty(verb).GetProperty("responses").GetProperty(string status)
        .GetProperty("content").GetProperty(media).GetProperty("schema")

[<Tests>]
let problems =
    testList "web conventions: problem details"
        [ testT "every kind of error answer is application/problem+json with our code" <| fun () -> task {
              let! missing = get (client ()) "/no/such/page"
              expectProblem missing 404 ApiErrorCode.NotFound "an unknown route"
              let! wrongMethod = get (client ()) "/api/predict"
              expectProblem wrongMethod 405 ApiErrorCode.MethodNotAllowed "GET on a POST endpoint"
              let! noReport = get (client ()) "/results/nothing.html"
              expectProblem noReport 404 ApiErrorCode.NotFound "a report that does not exist"
              let request = new HttpRequestMessage(HttpMethod.Get, "/api/model")
              request.Headers.Host <- "attacker.example"
              let! foreignHost = send (client ()) request
              expectProblem foreignHost 400 ApiErrorCode.BadRequest "a foreign Host header (host filtering)"
              let! badJson = predict (client ()) (json "{")
              expectProblem badJson 400 ApiErrorCode.BadJson "bad JSON"
              let! tooLarge = predict (client ()) (json ("{\"pixels\":[" + String('0', 5 <<< 20) + "]}"))
              expectProblem tooLarge 413 ApiErrorCode.BodyTooLarge "a body over the limit"
          } ]

[<Tests>]
let health =
    testList "web conventions: health checks"
        [ testT "live and ready answer 200 once the model is loaded and warm" <| fun () -> task {
              for path in [ "/healthz/live"; "/healthz/ready"; "/healthz" ] do
                  let! answer = get (client ()) path
                  Expect.equal answer.Status 200 $"{path}: {answer.Text}"
                  Expect.equal (answer.Str "status") "Healthy" path
              let! ready = get (client ()) "/healthz/ready"
              Expect.equal (ready.Body.GetProperty("checks").GetProperty("model").GetString()) "Healthy" "the model check"
          }

          testT "before the model's warm-up, ready is a 503 problem while live stays 200" <| fun () -> task {
              use f =
                  (factory [ "model", modelPath.Value; "results", scratch "cold" ]).WithWebHostBuilder(fun builder ->
                      builder.ConfigureTestServices(fun services ->
                          // no warm-up: the model never becomes ready
                          let warmup = services |> Seq.filter (fun d -> not (isNull d.ImplementationType) && d.ImplementationType.Name = "ModelWarmup") |> List.ofSeq
                          for d in warmup do services.Remove d |> ignore) |> ignore)
              let c = f.CreateClient()
              let! live = get c "/healthz/live"
              Expect.equal live.Status 200 live.Text
              let! ready = get c "/healthz/ready"
              expectProblem ready 503 ApiErrorCode.Unhealthy "not ready"
              Expect.stringContains (ready.Str "detail") "warming up" "says why"
          } ]

[<Tests>]
let openApi =
    testList "web conventions: OpenAPI"
        [ testT "/openapi/v1.json describes /api/predict and /api/model, and the real answers match it" <| fun () -> task {
              let! answer = get (client ()) "/openapi/v1.json"
              Expect.equal answer.Status 200 answer.Text
              let document = answer.Body
              let predictOp = document.GetProperty("paths").GetProperty("/api/predict").GetProperty("post")
              let bodies = [ for c in predictOp.GetProperty("requestBody").GetProperty("content").EnumerateObject() -> c.Name ] |> set
              for media in [ "application/json"; "multipart/form-data"; "image/png"; "image/jpeg"; "image/webp"; "image/gif"; "image/bmp" ] do
                  Expect.isTrue (bodies.Contains media) $"/api/predict takes {media}"
              for status in [ "200"; "400"; "413"; "415"; "503" ] do
                  Expect.isTrue (fst (predictOp.GetProperty("responses").TryGetProperty status)) $"/api/predict documents {status}"
              // the JSON body's fields are the ones the server reads
              let jsonBody = predictOp.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema")
              let bodyFields = mismatches document jsonBody (JsonDocument.Parse("""{"pixels": [0.5], "image": "data:", "featureMaps": true}""").RootElement) "body"
              Expect.isEmpty bodyFields "the documented JSON body has pixels, image and featureMaps"

              let check (path: string) (verb: string) (status: int) (media: string) (real: Answer) =
                  Expect.equal real.Status status $"{path}: {real.Text}"
                  let problems = mismatches document (responseSchema document path verb status media) real.Body path
                  let listed = String.Join("; ", problems)
                  Expect.isEmpty problems $"{path} {status} answers as described: {listed}"
              let! model = get (client ()) "/api/model"
              check "/api/model" "get" 200 "application/json" model
              let! digit = predict (client ()) (json ("{\"featureMaps\": true, " + (pixelsJson (testPixels 3)).ReadAsStringAsync().Result.TrimStart('{')))
              check "/api/predict" "post" 200 "application/json" digit
              let! empty = predict (client ()) (multipartPng (blankCanvas ()))
              check "/api/predict" "post" 200 "application/json" empty
              let! refused = predict (client ()) (json "[1]")
              check "/api/predict" "post" 400 "application/problem+json" refused
          } ]

[<Tests>]
let overload =
    testList "web conventions: overload"
        [ testT "64 uploads at once: every one answered, 200 or 503 with Retry-After, never a queue that grows" <| fun () -> task {
              // one predictor: 2 requests in flight and 1 waiting at most; the rest are refused
              use f = factory [ "model", modelPath.Value; "results", scratch "overload"; "predictors", "1" ]
              let c = f.CreateClient()
              let file = photo 0 TestImages.defaultPhoto
              let! answers = Task.WhenAll(Array.init 64 (fun _ -> predict c (raw (Some "image/jpeg") file)))
              let ok = answers |> Array.filter (fun a -> a.Status = 200)
              let refused = answers |> Array.filter (fun a -> a.Status = 503)
              eprintfn "  overload: %d answered 200, %d answered 503" ok.Length refused.Length
              let others = answers |> Array.filter (fun a -> a.Status <> 200 && a.Status <> 503) |> Array.truncate 1 |> Array.map (fun a -> $"{a.Status} {a.Text}")
              Expect.equal (ok.Length + refused.Length) 64 $"every request is answered 200 or 503 ({String.Join(' ', others)})"
              Expect.isNonEmpty ok "some are served"
              for a in refused do
                  expectProblem a 503 ApiErrorCode.Overloaded "refused"
                  Expect.equal (String.Join(",", a.Headers.GetValues "Retry-After")) "1" "Retry-After"
              for a in ok do Expect.equal (a.Body.GetProperty("digit").GetInt32()) (int testSet.Value.Labels[0]) "the right digit"
          }

          testT "a full server refuses the next requests (503 problem, Retry-After, held --refusal-pause), then answers the waiting ones" <| fun () -> task {
              // One predictor: 2 requests in flight and 1 waiting. The test holds the only predictor,
              // so the requests let in wait for it and the server fills deterministically.
              use f = factory [ "model", modelPath.Value; "results", scratch "overload-full"; "predictors", "1"; "refusal-pause", "400" ]
              let c = f.CreateClient()
              let pool = f.Services.GetRequiredService<ModelHost>().Current.Pool
              use release = new Threading.ManualResetEventSlim(false)
              use holding = new Threading.ManualResetEventSlim(false)
              let holder = Task.Run<int>(fun () -> pool.Run(fun _ -> holding.Set(); release.Wait(); 0).AsTask())
              holding.Wait()
              let file = photo 0 TestImages.defaultPhoto
              let probe () =
                  task {
                      let clock = Diagnostics.Stopwatch.StartNew()
                      let! answer = predict c (raw (Some "image/jpeg") file)
                      return answer, clock.Elapsed.TotalMilliseconds
                  }
              // Requests let in wait for the predictor; once three do, the next one is refused.
              let waiting = ResizeArray<Task<Answer * float>>()
              try
                  let mutable full = false
                  while not full && waiting.Count < 10 do
                      let next = probe ()
                      let! finished = Task.WhenAny(next, Task.Delay 5000) // a refusal comes back within 0.4 s plus little
                      if obj.ReferenceEquals(finished, next) then
                          let answer, _ = next.Result
                          Expect.equal answer.Status 503 $"only a refusal comes back while the predictor is held: {answer.Text}"
                          full <- true
                      else waiting.Add next
                  Expect.equal waiting.Count 3 "two requests in flight and one waiting fill the server"
                  let! probes = Task.WhenAll(Array.init 4 (fun _ -> probe ()))
                  for answer, ms in probes do
                      expectProblem answer 503 ApiErrorCode.Overloaded "refused while full"
                      Expect.equal (String.Join(",", answer.Headers.GetValues "Retry-After")) "1" "Retry-After"
                      // only a lower bound: a loaded machine makes a refusal later, never earlier
                      // (and a timer may fire a millisecond early against the stopwatch)
                      Expect.isTrue (ms >= 395.0) $"a refusal is held 400 ms first (this one {ms:F0} ms)"
              finally
                  // Also when a check fails: a predictor left held makes disposing the server wait forever.
                  release.Set()
              let! _ = holder
              let! answers = Task.WhenAll waiting
              for a, _ in answers do
                  Expect.equal a.Status 200 a.Text
                  Expect.equal (a.Body.GetProperty("digit").GetInt32()) (int testSet.Value.Labels[0]) "the right digit"
          } ]

/// Log messages the app writes, caught for tests.
type private Collected() =
    member val Lines = ConcurrentQueue<string>()
    interface ILoggerProvider with
        member this.CreateLogger category =
            { new ILogger with
                member _.BeginScope _ = null
                member _.IsEnabled _ = true
                member _.Log(level, _, state, error, format) = this.Lines.Enqueue($"{level} {category}: {format.Invoke(state, error)}") }
        member _.Dispose() = ()

[<Tests>]
let logging =
    testList "web conventions: logging and addresses"
        [ testT "requests are logged at information level, which users can set; not at the default warning" <| fun () -> task {
              for level, expectLogs in [ "information", true; "warning", false ] do
                  let collected = new Collected()
                  use f =
                      (factory [ "model", modelPath.Value; "results", scratch "logs"; "log-level", level ]).WithWebHostBuilder(fun builder ->
                          builder.ConfigureLogging(fun logging -> logging.AddProvider collected |> ignore) |> ignore)
                  let! _ = get (f.CreateClient()) "/api/model?from=test"
                  let requestLines = collected.Lines |> Seq.filter (fun l -> l.Contains "HttpLogging" && l.Contains "/api/model") |> List.ofSeq
                  if expectLogs then
                      Expect.isNonEmpty requestLines $"at {level}, the request is logged"
                      Expect.stringContains requestLines.Head "StatusCode: 200" "with its status"
                  else Expect.isEmpty requestLines $"at {level}, requests are not logged"
          }

          testCase "ASPNETCORE_URLS is honoured when no --host or --port is given" <| fun () ->
              let port = (let l = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0) in l.Start(); let p = (l.LocalEndpoint :?> Net.IPEndPoint).Port in l.Stop(); p)
              let dll = Path.Combine(AppContext.BaseDirectory, "Mnist.Web.dll")
              let start =
                  Diagnostics.ProcessStartInfo("dotnet", [ dll; "--model"; modelPath.Value; "--results"; scratch "urls" ],
                                               RedirectStandardError = true, RedirectStandardOutput = true)
              start.Environment["ASPNETCORE_URLS"] <- $"http://127.0.0.1:{port}"
              use proc = Diagnostics.Process.Start start
              try
                  use http = new HttpClient(Timeout = TimeSpan.FromSeconds 5.0)
                  let deadline = DateTime.UtcNow.AddSeconds 60.0
                  let mutable status = 0
                  while status = 0 && DateTime.UtcNow < deadline && not proc.HasExited do
                      try status <- int (http.GetAsync($"http://127.0.0.1:{port}/healthz/live").Result.StatusCode)
                      with _ -> Threading.Thread.Sleep 200
                  Expect.equal status 200 "the server listens where ASPNETCORE_URLS says"
              finally
                  if not proc.HasExited then proc.Kill true
                  proc.WaitForExit() ]

/// The real server (Kestrel) on 127.0.0.2, the stand-in for a network address, with what it printed.
let private startBeyondLocalhost (token: string option) =
    task {
        let said = ConcurrentQueue<string>()
        let options =
            ServeOptions(ModelPath = modelPath.Value, ResultsDir = scratch "admin", DataDir = mnistDir, Host = "127.0.0.2", Port = Nullable 0,
                         AdminToken = Option.toObj token, Log = (fun line -> said.Enqueue line))
        let app = WebServer.Create([||], options)
        do! app.StartAsync()
        let http = new HttpClient(BaseAddress = Uri((WebServer.Addresses app)[0]))
        return app, http, List.ofSeq said
    }

let private withToken (token: string) (request: HttpRequestMessage) =
    request.Headers.Authorization <- Headers.AuthenticationHeaderValue("Bearer", token)
    request

let private postJson (path: string) (body: string) = new HttpRequestMessage(HttpMethod.Post, path, Content = json body)

[<Tests>]
let admin =
    testList "web conventions: admin token"
        [ testT "beyond localhost, writes need the printed token; reads and predictions stay open" <| fun () -> task {
              let! (app: WebApplication), http, said = startBeyondLocalhost None
              try
                  let line = said |> List.find (fun l -> l.Contains "admin token")
                  let token = line.Split(' ') |> Array.find (fun w -> w.Length >= 20 && not (w.Contains "/"))
                  let job = """{"preset": "light", "limit": 1024, "epochs": 1}"""
                  let! refused = send http (postJson "/api/jobs" job)
                  expectProblem refused 401 ApiErrorCode.AdminTokenRequired "a job without the token"
                  Expect.equal (String.Join(",", refused.Headers.WwwAuthenticate)) "Bearer" "says how to authenticate"
                  let! wrong = send http (postJson "/api/jobs" job |> withToken "not-the-token")
                  expectProblem wrong 401 ApiErrorCode.AdminTokenRequired "a wrong token"
                  let! swap = send http (postJson "/api/model/use" """{"run": "x"}""")
                  expectProblem swap 401 ApiErrorCode.AdminTokenRequired "switching the model without the token"
                  let! access = get http "/api/access"
                  Expect.isTrue (access.Body.GetProperty("writesNeedToken").GetBoolean()) "the dashboard is told to ask"
                  let! runs = get http "/api/runs"
                  Expect.equal runs.Status 200 "reads stay open"
                  let! digit = predict http (pixelsJson (testPixels 0))
                  Expect.equal digit.Status 200 "predictions stay open"

                  let! accepted = send http (postJson "/api/jobs" job |> withToken token)
                  Expect.equal accepted.Status 202 $"with the token the job starts: {accepted.Text}"
                  let id = accepted.Str "id"
                  let! cancelNoToken = send http (new HttpRequestMessage(HttpMethod.Post, $"/api/jobs/{id}/cancel"))
                  expectProblem cancelNoToken 401 ApiErrorCode.AdminTokenRequired "cancelling without the token"
                  let! cancelled = send http (new HttpRequestMessage(HttpMethod.Post, $"/api/jobs/{id}/cancel") |> withToken token)
                  Expect.equal cancelled.Status 202 cancelled.Text
                  // wait for the job's thread to stop before the server does
                  let mutable over = false
                  let deadline = DateTime.UtcNow.AddSeconds 120.0
                  while not over && DateTime.UtcNow < deadline do
                      let! state = get http $"/api/jobs/{id}"
                      over <- state.Str "status" |> fun s -> s = "cancelled" || s = "finished" || s = "failed"
                      if not over then do! Task.Delay 200
                  Expect.isTrue over "the job stopped"
              finally
                  http.Dispose()
                  app.StopAsync().Wait()
                  (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
          }

          testT "a token given with --admin-token is the one required, and is not printed" <| fun () -> task {
              let! (app: WebApplication), http, said = startBeyondLocalhost (Some "correct-horse-battery-staple")
              try
                  Expect.isFalse (said |> List.exists (fun l -> l.Contains "correct-horse")) "not printed"
                  let! refused = send http (postJson "/api/model/use" """{"run": "none"}""")
                  Expect.equal refused.Status 401 "no token"
                  let! allowed = send http (postJson "/api/model/use" """{"run": "none"}""" |> withToken "correct-horse-battery-staple")
                  expectProblem allowed 404 ApiErrorCode.NotFound "past the token, the request itself is judged"
              finally
                  http.Dispose()
                  app.StopAsync().Wait()
                  (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
          }

          testT "on localhost nothing changes: no token asked for" <| fun () -> task {
              let! access = get (client ()) "/api/access"
              Expect.isFalse (access.Body.GetProperty("writesNeedToken").GetBoolean()) "no token on localhost"
              let! answer = post (client ()) "/api/model/use" (json """{"run": "none"}""")
              expectProblem answer 404 ApiErrorCode.NotFound "judged without a token"
          } ]

[<Tests>]
let photos =
    testList "web photos"
        [ testT "JPEG photos of handwritten digits on paper get the right digit (raw body, upload, data URL)" <| fun () -> task {
              let mutable right, total = 0, 0
              for i in 0 .. 9 do
                  for style in TestImages.photoStyles do
                      let file = photo i style
                      let content =
                          match total % 3 with
                          | 0 -> raw (Some "image/jpeg") file
                          | 1 -> multipartFile "image/jpeg" file
                          | _ -> json ("{\"image\": \"" + Mnist.Imaging.ImageDataUrl.Of(file, "image/jpeg") + "\"}")
                      let! answer = predict (client ()) content
                      Expect.equal answer.Status 200 answer.Text
                      Expect.equal (answer.Str "inkSource") "Photo" "read as a photo"
                      if answer.Body.GetProperty("digit").GetInt32() = int testSet.Value.Labels[i] then right <- right + 1
                      total <- total + 1
              eprintfn "  photos: %d of %d photographed test digits classified right" right total
              Expect.isGreaterThanOrEqual right (total - 2) "nearly all right"
          }

          testT "pen-drawn digits photographed get the right digit" <| fun () -> task {
              for digit, lines in Map.toList TestImages.strokes do
                  let file = TestImages.photograph TestImages.defaultPhoto (TestImages.drawStrokes 400 0.02 lines)
                  let! answer = predict (client ()) (raw (Some "image/jpeg") file)
                  Expect.equal answer.Status 200 answer.Text
                  Expect.equal (answer.Body.GetProperty("digit").GetInt32()) digit $"a pen-drawn {digit}"
          }

          testT "a sideways phone photo with its EXIF orientation is read the right way up" <| fun () -> task {
              // store the photo turned 90° anticlockwise, and say "turn 90° clockwise to view" (EXIF 6)
              let upright = photo 0 TestImages.defaultPhoto
              let image = Mnist.Imaging.ImageDecoder.Decode(ReadOnlySpan upright)
              let w, h, c = image.Width, image.Height, image.Channels
              let turned = Array.zeroCreate (w * h * c)
              for y in 0 .. h - 1 do
                  for x in 0 .. w - 1 do
                      // stored pixel (y', x') = viewed (x, y) under orientation 6: x = h' - 1 - y', y = x'
                      let sx, sy = y, w - 1 - x
                      Array.blit image.Pixels ((y * w + x) * c) turned ((sy * h + sx) * c) c
              let stored = TestImages.jpeg 90 (Mnist.Core.Imaging.PixelImage(h, w, image.Layout, turned))
              let! plain = predict (client ()) (raw (Some "image/jpeg") stored)
              let! oriented = predict (client ()) (raw (Some "image/jpeg") (TestImages.withExifOrientation 6 stored))
              Expect.equal (oriented.Body.GetProperty("digit").GetInt32()) (int testSet.Value.Labels[0]) "upright: the right digit"
              Expect.notEqual (floats (plain.Body.GetProperty "image")) (floats (oriented.Body.GetProperty "image")) "the orientation mattered"
          } ]
