/// The web app's parsers of outside input, fuzzed through the real ASP.NET Core pipeline (an
/// in-memory test server): every answer must be a 200 that is correct, or a 4xx Problem Details
/// answer with our code — never a 5xx.
module Mnist.Fuzz.Web

open System
open System.IO
open System.Net.Http
open System.Net.Http.Headers
open System.Text
open System.Text.Json
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.Http
open Microsoft.AspNetCore.Mvc.Testing
open Mnist.Web
open Mnist.Fuzz.Harness
open Mnist.Fuzz.Mutations
open Mnist.Fuzz.Targets

/// The server: an initialised classic network (the format of a trained one), an empty results folder.
let private server =
    lazy
        (let dir = Path.Combine(Path.GetTempPath(), $"mnist-fuzz-web-{Guid.NewGuid():N}")
         Directory.CreateDirectory dir |> ignore
         let model = Path.Combine(dir, "model.safetensors")
         File.WriteAllBytes(model, Seeds.models.Value.Head)
         let factory =
             (new WebApplicationFactory<Program>()).WithWebHostBuilder(fun builder ->
                 builder.UseContentRoot AppContext.BaseDirectory |> ignore
                 builder.UseEnvironment "Production" |> ignore
                 for key, value in [ "model", model; "results", Path.Combine(dir, "results") ] do builder.UseSetting(key, value) |> ignore)
         factory.CreateClient())

let private property (body: JsonElement) (name: string) =
    match body.TryGetProperty name with
    | true, v -> Some v
    | _ -> None

/// Judges an answer: a correct 200, or a 4xx problem with our code.
let private judge (response: HttpResponseMessage) =
    let text = response.Content.ReadAsStringAsync().Result
    let status = int response.StatusCode
    let body () = JsonDocument.Parse(text).RootElement
    if status = 200 then
        let answer = body ()
        match property answer "empty" with
        | Some e when e.GetBoolean() -> check (property answer "digit" |> Option.isNone) "an empty answer has no digit"
        | _ ->
            let digit = answer.GetProperty("digit").GetInt32()
            let probabilities = [ for p in answer.GetProperty("probabilities").EnumerateArray() -> p.GetDouble() ]
            check (digit >= 0 && digit <= 9) "a digit"
            check (probabilities.Length = 10 && abs (List.sum probabilities - 1.0) < 1e-3) "ten probabilities summing to 1"
            let image = [ for p in answer.GetProperty("image").EnumerateArray() -> p.GetDouble() ]
            check (image.Length = 784 && image |> List.forall (fun v -> v >= 0.0 && v <= 1.0)) "the 28x28 image in [0,1]"
        Accepted
    elif status >= 400 && status < 500 then
        let media = match response.Content.Headers.ContentType with null -> "" | t -> t.MediaType
        check (media = "application/problem+json") $"a {status} that is not a problem: {text}"
        match property (body ()) "code" with
        | Some code when code.ValueKind = JsonValueKind.String && code.GetString() <> "" -> Refused(code.GetString())
        | _ -> raise (WrongResult $"a {status} problem without a code: {text}")
    else raise (WrongResult $"status {status}: {text}")

let private post (path: string) (contentType: string) (input: byte[]) =
    let content = new ByteArrayContent(input)
    content.Headers.TryAddWithoutValidation("Content-Type", contentType) |> ignore
    judge (server.Value.PostAsync(path, content).Result)

/// The content type a browser would give the bytes (by their signature; PNG when unknown).
let private imageType (input: byte[]) =
    let starts (prefix: string) = input.Length >= prefix.Length && Seq.forall2 (fun (c: char) (b: byte) -> byte c = b) prefix input
    if input.Length > 2 && input[0] = 0xFFuy && input[1] = 0xD8uy then "image/jpeg"
    elif starts "GIF" then "image/gif"
    elif starts "BM" then "image/bmp"
    elif starts "RIFF" then "image/webp"
    else "image/png"

let predictJson =
    { Name = "predict-json"
      Seeds = Seeds.predictJson
      Mutators = textLevel
      Run = post "/api/predict" "application/json" }

let predictMultipart =
    { Name = "predict-multipart"
      Seeds = Seeds.multipart
      Mutators = textLevel @ png
      Run = post "/api/predict" $"multipart/form-data; boundary={Seeds.boundary}" }

let predictImage =
    { Name = "predict-image"
      Seeds = Seeds.images
      Mutators = png @ jpeg
      Run = fun input -> post "/api/predict" (imageType input) input }

/// The dashboard's job requests, read by the endpoint's own reader and checked as the endpoint
/// does before a job starts (nothing is trained here).
let jobRequests =
    { Name = "job-request"
      Seeds = Seeds.jobRequests
      Mutators = textLevel
      Run = fun input ->
        let context = DefaultHttpContext()
        context.Request.Body <- new MemoryStream(input)
        context.Request.ContentType <- "application/json"
        context.Request.ContentLength <- int64 input.Length
        try
            let request = DashboardEndpoints.ReadJson<TrainRequest>(context, ServeOptions()).Result
            let run = TrainingJobs.Describe request
            check (run.Id.Length = 12) "a run id"
            Accepted
        with
        | :? AggregateException as e when (e.InnerException :? ApiException) -> Refused (e.InnerException :?> ApiException).Code
        | :? ApiException as e when e.Status >= 400 && e.Status < 500 -> Refused e.Code }

/// Switching the served model from the dashboard: the same JSON reader, over HTTP.
let useModel =
    { Name = "use-model"
      Seeds = lazy [ for body in [ """{"run":"aaaa1111"}"""; """{"job":"20250101-000000-abcdef"}""" ] -> Encoding.UTF8.GetBytes body ]
      Mutators = textLevel
      Run = post "/api/model/use" "application/json" }

let all = [ predictJson; predictMultipart; predictImage; jobRequests; useModel ]
