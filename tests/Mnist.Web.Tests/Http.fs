/// Small helpers for talking to the server in tests.
module Mnist.Web.Tests.Http

open System
open System.Net.Http
open System.Net.Http.Headers
open System.Text
open System.Text.Json
open System.Threading.Tasks

/// A JSON body with the usual content type.
let json (text: string) = new StringContent(text, Encoding.UTF8, "application/json") :> HttpContent

/// A body with any content type (or none).
let raw (contentType: string option) (bytes: byte[]) =
    let content = new ByteArrayContent(bytes)
    contentType |> Option.iter (fun t -> content.Headers.ContentType <- MediaTypeHeaderValue.Parse t)
    content :> HttpContent

/// {"pixels": [...]} with invariant number formatting.
let pixelsJson (pixels: float32 seq) =
    let numbers = pixels |> Seq.map (fun p -> p.ToString("R", Globalization.CultureInfo.InvariantCulture))
    json ("{\"pixels\":[" + String.Join(",", numbers) + "]}")

let dataUrlJson (png: byte[]) = json ("{\"image\":\"data:image/png;base64," + Convert.ToBase64String png + "\"}")

/// A form upload of one file, as a browser sends it.
let multipartFile (contentType: string) (bytes: byte[]) =
    let form = new MultipartFormDataContent()
    let file = new ByteArrayContent(bytes)
    file.Headers.ContentType <- MediaTypeHeaderValue contentType
    form.Add(file, "file", "digit." + contentType.Substring(contentType.IndexOf '/' + 1))
    form :> HttpContent

let multipartPng (png: byte[]) = multipartFile "image/png" png

/// Status code and parsed JSON body of an answer.
type Answer =
    { Status: int; Body: JsonElement; Text: string; ContentType: string; Headers: Net.Http.Headers.HttpResponseHeaders }
    member a.Str(name: string) = match a.Body.TryGetProperty name with | true, v when v.ValueKind = JsonValueKind.String -> v.GetString() | _ -> null
    member a.Has(name: string) = match a.Body.TryGetProperty name with | true, v -> v.ValueKind <> JsonValueKind.Null | _ -> false

let send (client: HttpClient) (request: HttpRequestMessage) : Task<Answer> =
    task {
        use! response = client.SendAsync request
        let! text = response.Content.ReadAsStringAsync()
        let body =
            try (JsonDocument.Parse text).RootElement
            with _ -> JsonDocument.Parse("null").RootElement
        let contentType = match response.Content.Headers.ContentType with null -> "" | t -> t.MediaType
        return { Status = int response.StatusCode; Body = body; Text = text; ContentType = contentType; Headers = response.Headers }
    }

let post (client: HttpClient) (path: string) (content: HttpContent) =
    send client (new HttpRequestMessage(HttpMethod.Post, path, Content = content))

let get (client: HttpClient) (path: string) = send client (new HttpRequestMessage(HttpMethod.Get, path))

let predict (client: HttpClient) content = post client "/api/predict" content

let floats (element: JsonElement) = [| for v in element.EnumerateArray() -> v.GetSingle() |]

/// A test whose body is a task (F#'s own builder, which infers types better than Expecto's).
let testT (name: string) (body: unit -> Task<unit>) = Expecto.Tests.testCaseTask name body
