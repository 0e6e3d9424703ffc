/// POST /api/predict and GET /api/model through WebApplicationFactory: good inputs in
/// every form, every kind of bad input (never a 500), start-up refusals, concurrency.
module Mnist.Web.Tests.ApiTests

open System
open System.IO
open System.Net.Http
open System.Text
open System.Threading.Tasks
open Expecto
open Mnist.Core
open Mnist.Core.Imaging
open Mnist.Imaging
open Mnist
open Mnist.Web
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http
open Mnist.Web.Tests.Drawings

let private client () = snd api.Value

let private numbers (text: string) = "{\"pixels\":[" + text + "]}"
let private zeros n = String.Join(",", Array.create n "0")

let private expectRefusal (status: int) (code: string) (content: unit -> HttpContent) =
    task {
        let! answer = predict (client ()) (content ())
        Expect.equal answer.Status status $"status for {code}: {answer.Text}"
        Expect.equal answer.ContentType "application/problem+json" "a problem"
        Expect.equal (answer.Str "code") code $"error code: {answer.Text}"
        Expect.equal (answer.Body.GetProperty("status").GetInt32()) status "the status, in the body too"
        Expect.isFalse (String.IsNullOrWhiteSpace(answer.Str "detail")) "a message for people"
    }

let private refusals: (string * int * string * (unit -> HttpContent)) list =
    let bad = 400
    let png () = drawnDigit (testPixels 0)
    let photo i = TestImages.photograph TestImages.defaultPhoto (TestImages.mnistMask (testSet.Value.Image(i).ToArray()))
    [ "body over the limit (Content-Length)", 413, ApiErrorCode.BodyTooLarge,
      (fun () -> json ("{\"pixels\":[" + String('0', 4 <<< 20) + "]}"))
      "body over the limit (streamed, no length)", 413, ApiErrorCode.BodyTooLarge,
      (fun () ->
          let stream = new MemoryStream(Encoding.ASCII.GetBytes(String(' ', (4 <<< 20) + 10)))
          let content = new StreamContent(stream)
          content.Headers.ContentType <- Headers.MediaTypeHeaderValue "application/json"
          content :> HttpContent)
      "text/plain", 415, ApiErrorCode.UnsupportedMediaType, (fun () -> raw (Some "text/plain") (Encoding.UTF8.GetBytes "{}"))
      "no content type", 415, ApiErrorCode.UnsupportedMediaType, (fun () -> raw None (Encoding.UTF8.GetBytes "{}"))
      "form-urlencoded", 415, ApiErrorCode.UnsupportedMediaType,
      (fun () -> raw (Some "application/x-www-form-urlencoded") (Encoding.UTF8.GetBytes "pixels=1"))
      "image/svg+xml", 415, ApiErrorCode.UnsupportedMediaType, (fun () -> raw (Some "image/svg+xml") (Encoding.UTF8.GetBytes "<svg/>"))
      "malformed JSON", bad, ApiErrorCode.BadJson, (fun () -> json "{\"pixels\": [0, 1")
      "a JSON array", bad, ApiErrorCode.BadJson, (fun () -> json "[0, 1]")
      "an empty body", bad, ApiErrorCode.BadJson, (fun () -> json "")
      // found by fuzzing: these were 500s, the reader cannot turn such strings into text
      "invalid UTF-8 in a string", bad, ApiErrorCode.BadJson, (fun () -> raw (Some "application/json") [| yield! "{\"image\": \""B; yield 0xC3uy; yield 0x28uy; yield! "\"}"B |])
      "an escaped lone surrogate", bad, ApiErrorCode.BadJson, (fun () -> json "{\"image\": \"\\ud800\"}")
      "trailing content", bad, ApiErrorCode.BadJson, (fun () -> json ("{\"pixels\":[" + zeros 784 + "]} {}"))
      "neither pixels nor image", bad, ApiErrorCode.MissingInput, (fun () -> json "{\"digits\": [1]}")
      "both pixels and image", bad, ApiErrorCode.AmbiguousInput,
      (fun () -> json ("{\"pixels\":[" + zeros 784 + "], \"image\": \"data:image/png;base64,AAAA\"}"))
      "pixels not an array", bad, ApiErrorCode.BadPixels, (fun () -> json "{\"pixels\": \"0,0,0\"}")
      "a string pixel", bad, ApiErrorCode.BadPixels, (fun () -> json (numbers "0, \"0.5\", 0"))
      "a null pixel", bad, ApiErrorCode.BadPixels, (fun () -> json (numbers "0, null"))
      "a nested array", bad, ApiErrorCode.BadPixels, (fun () -> json (numbers "[0, 1]"))
      "783 pixels", bad, ApiErrorCode.WrongLength, (fun () -> json (numbers (zeros 783)))
      "785 pixels", bad, ApiErrorCode.WrongLength, (fun () -> json (numbers (zeros 785)))
      "no pixels", bad, ApiErrorCode.WrongLength, (fun () -> json (numbers ""))
      "28 rows of 28 (nested)", bad, ApiErrorCode.BadPixels, (fun () -> json (numbers (String.Join(",", Array.create 28 ("[" + zeros 28 + "]")))))
      "NaN literal", bad, ApiErrorCode.NotFinite, (fun () -> json (numbers ("0.5, NaN, " + zeros 782)))
      "Infinity literal", bad, ApiErrorCode.NotFinite, (fun () -> json (numbers ("-Infinity, " + zeros 783)))
      "\"NaN\" string", bad, ApiErrorCode.NotFinite, (fun () -> json (numbers ("\"NaN\", " + zeros 783)))
      "1e999", bad, ApiErrorCode.NotFinite, (fun () -> json (numbers ("1e999, " + zeros 783)))
      "a negative pixel", bad, ApiErrorCode.OutOfRange, (fun () -> json (numbers ("-0.01, " + zeros 783)))
      "a pixel over 1", bad, ApiErrorCode.OutOfRange, (fun () -> json (numbers (zeros 400 + ", 255, " + zeros 383)))
      "image not a string", bad, ApiErrorCode.BadImage, (fun () -> json "{\"image\": 42}")
      "an SVG data URL", bad, ImageErrorCode.BadDataUrl, (fun () -> json "{\"image\": \"data:image/svg+xml;base64,PHN2Zy8+\"}")
      "a plain URL", bad, ImageErrorCode.BadDataUrl, (fun () -> json "{\"image\": \"https://example.com/7.png\"}")
      "bad base64", bad, ImageErrorCode.BadBase64, (fun () -> json "{\"image\": \"data:image/png;base64,iVBOR***not base64***\"}")
      "base64 of text, not an image", bad, ImageErrorCode.NotImage,
      (fun () -> json ("{\"image\": \"data:image/png;base64," + Convert.ToBase64String(Encoding.ASCII.GetBytes "hello, not a png") + "\"}"))
      "a truncated PNG", bad, ImageErrorCode.Truncated, (fun () -> let p = png () in dataUrlJson p[.. p.Length / 2])
      "a truncated JPEG", bad, ImageErrorCode.Truncated, (fun () -> let j = photo 0 in raw (Some "image/jpeg") j[.. j.Length / 2])
      "a PNG claiming 30000x30000", bad, ImageErrorCode.TooLarge, (fun () -> dataUrlJson (TestImages.pngDeclaring 30000 30000 (png ())))
      "a JPEG claiming 30000x30000 (upload)", bad, ImageErrorCode.TooLarge,
      (fun () -> multipartFile "image/jpeg" (TestImages.jpegDeclaring 30000 30000 (photo 0)))
      "an icon", bad, ImageErrorCode.Unsupported, (fun () -> raw (Some "image/png") (TestImages.ico (png ())))
      "a raw body that is not an image", bad, ImageErrorCode.NotImage, (fun () -> raw (Some "image/png") (Encoding.ASCII.GetBytes "hello"))
      "multipart without a boundary", bad, ApiErrorCode.BadMultipart, (fun () -> raw (Some "multipart/form-data") [| 1uy |])
      "multipart that is garbage", bad, ApiErrorCode.BadMultipart,
      (fun () -> raw (Some "multipart/form-data; boundary=xyz") (Encoding.ASCII.GetBytes "--xyz\r\nno end in sight"))
      "multipart without a file", bad, ApiErrorCode.MissingFile,
      (fun () ->
          let form = new MultipartFormDataContent()
          form.Add(new StringContent "7", "label")
          form :> HttpContent)
      "multipart with a text file", bad, ImageErrorCode.NotImage,
      (fun () ->
          let form = new MultipartFormDataContent()
          form.Add(new ByteArrayContent(Encoding.ASCII.GetBytes "just text"), "file", "digit.png")
          form :> HttpContent) ]

[<Tests>]
let badInputs =
    testList "web api refusals"
        [ for name, status, code, content in refusals ->
              testT name <| fun () -> task { do! expectRefusal status code content } ]

[<Tests>]
let goodInputs =
    testList "web api predictions"
        [ testT "pixels, a data URL, an upload and a raw PNG give the same answer for the same digit" <| fun () -> task {
              let pixels = testPixels 0
              let png = drawnDigit pixels
              let! fromPixels = predict (client ()) (pixelsJson pixels)
              let! fromUrl = predict (client ()) (dataUrlJson png)
              let! fromUpload = predict (client ()) (multipartPng png)
              let! fromRaw = predict (client ()) (raw (Some "image/png") png)
              for answer in [ fromPixels; fromUrl; fromUpload; fromRaw ] do
                  Expect.equal answer.Status 200 answer.Text
                  Expect.equal (answer.Body.GetProperty("digit").GetInt32()) (int testSet.Value.Labels[0]) "test image 0 is a 7"
                  let probabilities = floats (answer.Body.GetProperty "probabilities")
                  Expect.hasLength probabilities 10 "ten probabilities"
                  Expect.floatClose Accuracy.medium (float (Array.sum probabilities)) 1.0 "they sum to 1"
                  Expect.hasLength (floats (answer.Body.GetProperty "image")) 784 "the 28x28 the network saw"
              // The upload, the data URL and the raw body carry the same bytes: the same answer exactly.
              Expect.equal (floats (fromUpload.Body.GetProperty "probabilities")) (floats (fromUrl.Body.GetProperty "probabilities")) "same file, same answer"
              Expect.equal (floats (fromRaw.Body.GetProperty "probabilities")) (floats (fromUrl.Body.GetProperty "probabilities")) "same file, same answer"
          }

          testT "the answer matches a predictor run on the preprocessed image" <| fun () -> task {
              let pixels = testPixels 1
              let! answer = predict (client ()) (pixelsJson pixels)
              Expect.equal answer.Status 200 answer.Text
              let prepared = DigitPreprocessor.Prepare(ReadOnlySpan pixels, 28, 28, InkPolarity.BrightInk)
              let expected = localPredictor().Predict(ReadOnlySpan prepared.Pixels)
              Expect.equal (answer.Body.GetProperty("digit").GetInt32()) expected.Digit "digit"
              Expect.equal (floats (answer.Body.GetProperty "probabilities")) expected.Probabilities "probabilities, bit for bit"
          }

          testT "an empty drawing is answered 'draw a digit', not classified" <| fun () -> task {
              for content in [ (fun () -> pixelsJson (Array.zeroCreate 784)); (fun () -> dataUrlJson (blankCanvas ()))
                               (fun () -> multipartPng (blankCanvas ())) ] do
                  let! answer = predict (client ()) (content ())
                  Expect.equal answer.Status 200 answer.Text
                  Expect.isTrue (answer.Body.GetProperty("empty").GetBoolean()) "empty"
                  Expect.equal (answer.Str "message") "draw a digit" "what the page shows"
                  Expect.isFalse (answer.Has "digit") "no digit"
                  Expect.isFalse (answer.Has "probabilities") "no probabilities"
          }

          testT "a stray dot is no digit either" <| fun () -> task {
              let pixels = Array.zeroCreate 784
              pixels[14 * 28 + 14] <- 1.0f
              let! answer = predict (client ()) (pixelsJson pixels)
              Expect.isTrue (answer.Body.GetProperty("empty").GetBoolean()) answer.Text
          }

          testT "feature maps on request: 32 maps of 28x28 in one PNG" <| fun () -> task {
              let! answer = predict (client ()) (json ("{\"featureMaps\": true, " + (pixelsJson (testPixels 2)).ReadAsStringAsync().Result.TrimStart('{')))
              Expect.equal answer.Status 200 answer.Text
              let maps = answer.Body.GetProperty "featureMaps"
              Expect.equal (maps.GetProperty("channels").GetInt32()) 32 "classic's first convolution has 32 filters"
              Expect.equal (maps.GetProperty("width").GetInt32()) 28 "maps are 28 wide"
              let url = maps.GetProperty("png").GetString()
              let image = ImageDecoder.Decode(ReadOnlySpan(ImageDataUrl.ToBytes url))
              Expect.equal (image.Width, image.Height) (8 * 29 - 1, 4 * 29 - 1) "8 x 4 tiles with 1-px gaps"
              let! plain = predict (client ()) (pixelsJson (testPixels 2))
              Expect.isFalse (plain.Has "featureMaps") "only when asked"
              Expect.equal (floats (plain.Body.GetProperty "probabilities")) (floats (answer.Body.GetProperty "probabilities")) "same prediction either way"
          }

          testT "GET /api/model describes the architecture, parameters, accuracy and training" <| fun () -> task {
              let! answer = get (client ()) "/api/model"
              Expect.equal answer.Status 200 answer.Text
              Expect.equal (answer.Body.GetProperty("parameters").GetInt64()) 421642L "classic's parameter count"
              Expect.equal (answer.Body.GetProperty("name").GetString()) "classic" "name"
              Expect.isGreaterThan (answer.Body.GetProperty("layers").GetArrayLength()) 5 "layer table"
              Expect.isGreaterThan (answer.Body.GetProperty("testAccuracy").GetDouble()) 0.97 "test accuracy from the file"
              Expect.equal (answer.Body.GetProperty("training").GetProperty("epochs").GetInt32()) 1 "training spec"
              Expect.stringContains (answer.Body.GetProperty("summary").GetString()) "Total parameters: 421,642" "summary table"
          }

          testT "the page and its assets are served from the app itself, with a strict CSP" <| fun () -> task {
              for path, kind in [ "/", "text/html"; "/app.js", "text/javascript"; "/style.css", "text/css"; "/dashboard", "text/html"; "/dashboard.js", "text/javascript" ] do
                  use! response = (client ()).GetAsync(path: string)
                  Expect.equal (int response.StatusCode) 200 path
                  Expect.stringStarts (string response.Content.Headers.ContentType) kind path
                  let! text = response.Content.ReadAsStringAsync()
                  Expect.isFalse (text.Contains "http://" || text.Contains "https://") $"{path} loads nothing from elsewhere"
              use! page = (client ()).GetAsync "/"
              let csp = String.Join(";", page.Headers.GetValues "Content-Security-Policy")
              Expect.stringContains csp "default-src 'self'" "CSP"
          }

          testT "a foreign Host header is refused while bound to localhost" <| fun () -> task {
              let request = new HttpRequestMessage(HttpMethod.Get, "/healthz")
              request.Headers.Host <- "attacker.example"
              let! answer = send (client ()) request
              Expect.equal answer.Status 400 "host filtering"
          }

          testT "200 concurrent requests, with a queue long enough for them, are all answered, each correctly" <| fun () -> task {
              // the default limit would answer most of them 503 at once (ConventionTests checks that)
              use f = factory [ "model", modelPath.Value; "results", scratch "concurrent"; "prediction-queue", "200" ]
              let c = f.CreateClient()
              let count = 200
              let predictor = localPredictor ()
              let expected =
                  Array.init count (fun i ->
                      let prepared = DigitPreprocessor.Prepare(ReadOnlySpan(testPixels i), 28, 28, InkPolarity.BrightInk)
                      predictor.Predict(ReadOnlySpan prepared.Pixels))
              let! answers =
                  Task.WhenAll(
                      Array.init count (fun i ->
                          let content = if i % 4 = 3 then multipartPng (drawnDigit (testPixels i)) else pixelsJson (testPixels i)
                          predict c content))
              for i in 0 .. count - 1 do
                  Expect.equal answers[i].Status 200 answers[i].Text
                  if i % 4 <> 3 then
                      Expect.equal (floats (answers[i].Body.GetProperty "probabilities")) expected[i].Probabilities $"request {i}: the same answer as alone"
                  else
                      Expect.isTrue (answers[i].Has "digit") $"request {i} (upload) classified"
          } ]

/// Starts the real server (Kestrel, a free loopback port) with these options; it must refuse.
let private refusesToStart (options: ServeOptions) =
    try
        let app = WebServer.Create([||], options)
        app.StartAsync().Wait()
        app.StopAsync().Wait()
        failtest "start-up should have failed"
    with :? MnistException as e -> e.Message

[<Tests>]
let startup =
    testList "web start-up"
        [ testCase "a missing model file stops start-up, naming it" <| fun () ->
              let path = Path.Combine(scratch "missing", "nope.safetensors")
              let message = refusesToStart (ServeOptions(ModelPath = path, ResultsDir = scratch "results", Port = 0, Log = ignore))
              Expect.stringContains message path "names the file"
              Expect.stringContains message "not found" "says what is wrong"

          testCase "a corrupt model file stops start-up with the loader's message" <| fun () ->
              let path = Path.Combine(scratch "corrupt", "model.safetensors")
              File.WriteAllBytes(path, Encoding.ASCII.GetBytes "this is not a safetensors file at all")
              let message = refusesToStart (ServeOptions(ModelPath = path, ResultsDir = scratch "results", Port = 0, Log = ignore))
              Expect.stringContains message path "names the file"
              Expect.stringContains message "not a valid safetensors file" "says what is wrong"

          testCase "a model whose weights are not numbers (a diverged run) is refused, naming the tensor" <| fun () ->
              let model = Mnist.Core.IO.ModelFile.Load modelPath.Value
              let struct (name, weights) = (Mnist.Core.IO.ModelFile.NamedTensors model.Network)[0]
              weights.Span[0] <- nanf
              let path = Path.Combine(scratch "diverged", "model.safetensors")
              Mnist.Core.IO.ModelFile.Save(path, model.Network, model.Config, model.Normalization)
              let message = refusesToStart (ServeOptions(ModelPath = path, ResultsDir = scratch "results", Port = 0, Log = ignore))
              Expect.stringContains message name "names the tensor"
              Expect.stringContains message "cannot be served" "says what is wrong"

          testCase "the server on its own exits 1 with one line naming a missing model" <| fun () ->
              let path = Path.Combine(scratch "missing", "nope.safetensors")
              let dll = Path.Combine(AppContext.BaseDirectory, "Mnist.Web.dll")
              let start = Diagnostics.ProcessStartInfo("dotnet", [ dll; "--model"; path; "--port"; "0" ], RedirectStandardError = true, RedirectStandardOutput = true)
              use proc = Diagnostics.Process.Start start
              let errors = proc.StandardError.ReadToEnd()
              let output = proc.StandardOutput.ReadToEnd()
              proc.WaitForExit()
              Expect.equal proc.ExitCode 1 "exit code"
              Expect.equal (errors.Trim()) $"error: model file not found: {path}" $"one clear line (stdout: {output})"

          testCase "a port already in use stops start-up with a clear message" <| fun () ->
              let listener = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
              listener.Start()
              try
                  let port = (listener.LocalEndpoint :?> Net.IPEndPoint).Port
                  let options = ServeOptions(ModelPath = modelPath.Value, ResultsDir = scratch "results", Host = "127.0.0.1", Port = port, Log = ignore)
                  let message =
                      try
                          WebServer.Run options
                          "it ran"
                      with :? MnistException as e -> e.Message
                  Expect.stringContains message (string port) "names the port"
              finally listener.Stop() ]
