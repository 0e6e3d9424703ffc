/// Property tests (FsCheck): generated values rather than mutated files, for the parsers whose
/// inputs have a structure worth generating — and round trips that must hold for every value.
module Mnist.Fuzz.Properties

open System
open System.IO
open System.Text
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.IO
open Mnist.Experiments
open Mnist.Imaging
open Mnist.Web
open Mnist.Fuzz.Harness

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

/// Our refusal, or the property fails with the exception.
let private acceptedOrRefused (run: unit -> unit) =
    try run (); true with :? MnistException -> true

/// A JSON value that a spec field might plausibly be given.
let private specValue =
    Gen.oneof
        [ Gen.constant (null: JsonNode)
          Gen.elements [ "classic"; "light"; "resnet"; "huge"; "relu"; "swish"; "adam"; "nesterov"; "onecycle"; "cosine"; "mnist"; ""; "SGD" ]
          |> Gen.map (fun s -> JsonValue.Create s :> JsonNode)
          ArbMap.defaults |> ArbMap.generate<int> |> Gen.map (fun n -> JsonValue.Create n :> JsonNode)
          ArbMap.defaults |> ArbMap.generate<NormalFloat> |> Gen.map (fun f -> JsonValue.Create f.Get :> JsonNode)
          Gen.elements [ 0.0; 0.05; 1.0; 64.0; 1e9; -1.0 ] |> Gen.map (fun f -> JsonValue.Create f :> JsonNode)
          ArbMap.defaults |> ArbMap.generate<bool> |> Gen.map (fun b -> JsonValue.Create b :> JsonNode)
          Gen.elements [ "adam"; "sgd"; "lbfgs" ] |> Gen.map (fun name -> JsonObject([ Collections.Generic.KeyValuePair("name", JsonValue.Create name :> JsonNode) ]) :> JsonNode) ]

/// A spec as JSON: a few fields (including unknown ones), random values.
let private specJson =
    gen {
        let! fields = Gen.subListOf (ExperimentSpec.fieldNames @ [ "epochz"; "Preset" ])
        let! values = Gen.listOfLength fields.Length specValue
        let o = JsonObject()
        // copies: FsCheck may hand the same generated node to several attempts while it shrinks
        for field, value in List.zip fields values do o[field] <- (if isNull value then null else value.DeepClone())
        return o
    }

[<Tests>]
let properties =
    testList "fuzz properties"
        [ testPropertyWithConfig config "any bytes: the image decoder accepts them or refuses them with a code" <| fun (bytes: byte[]) ->
              Targets.imageDecoding.Run bytes |> ignore

          testPropertyWithConfig config "any text: a data URL is read or refused with a code" <| fun (NonNull (url: string)) ->
              acceptedOrRefused (fun () -> ImageDataUrl.ToBytes url |> ignore)

          testPropertyWithConfig config "any spec JSON: refused, or normalised to a spec that reads back with the same run id"
          <| Prop.forAll (Arb.fromGen specJson) (fun json ->
              try
                  let spec = ExperimentSpec.ofLayers [ json ]
                  let again = ExperimentSpec.ofJson (ExperimentSpec.toJson spec)
                  ExperimentSpec.runId again = ExperimentSpec.runId spec
              with :? MnistException -> true)

          testPropertyWithConfig config "IDX files round-trip, raw and gzipped" <| fun (dims: PositiveInt list) (gz: bool) ->
              let dims = dims |> List.truncate 3 |> List.map (fun d -> 1 + d.Get % 6) |> Array.ofList
              dims.Length = 0 || (
                  let data = Array.init (Array.fold (*) 1 dims) byte
                  let path = Path.Combine(Path.GetTempPath(), $"mnist-fuzz-{Guid.NewGuid():N}" + (if gz then ".gz" else ""))
                  try
                      IdxFile.Write(path, dims, ReadOnlySpan data)
                      let back = IdxFile.Read(path, dims.Length)
                      back.Dims = dims && back.Data = data
                  finally File.Delete path)

          testPropertyWithConfig config "any bytes: IDX parsing accepts consistent files or refuses" <| fun (bytes: byte[]) (rank: byte) ->
              acceptedOrRefused (fun () -> IdxFile.Read(new MemoryStream(bytes), "fuzz", 1 + int rank % 3) |> ignore)

          testPropertyWithConfig config "safetensors files round-trip: names, shapes, values and metadata" <| fun (tensors: (NonEmptyString * PositiveInt * NormalFloat) list) (note: NonNull<string>) ->
              let named =
                  tensors
                  |> List.distinctBy (fun (n, _, _) -> n.Get)
                  |> List.filter (fun (n, _, _) -> n.Get <> SafeTensors.MetadataKey)
                  |> List.map (fun (n, size, value) ->
                      let t = Mnist.Core.Tensors.Tensor([| 1 + size.Get % 7 |])
                      t.Span.Fill(float32 value.Get)
                      n.Get, t)
              let bytes = SafeTensors.Serialize(ResizeArray [ for n, t in named -> struct (n, t) ], readOnlyDict [ "note", note.Get ])
              let back = SafeTensors.Parse(bytes, "round trip")
              back.Metadata["note"] = note.Get
              && named |> List.forall (fun (name, t) -> back.Tensors[name].Span.ToArray() = t.Span.ToArray())

          testPropertyWithConfig config "any bytes: safetensors parsing accepts or refuses" <| fun (bytes: byte[]) ->
              acceptedOrRefused (fun () -> SafeTensors.Parse(bytes, "fuzz") |> ignore)

          testPropertyWithConfig config "any list of JSON numbers as pixels: a request, or a 400 naming the problem" <| fun (values: NormalFloat list) ->
              let body = Encoding.UTF8.GetBytes("{\"pixels\":[" + String.Join(",", values |> List.map (fun v -> v.Get.ToString("R", Globalization.CultureInfo.InvariantCulture))) + "]}")
              try
                  let request = PredictRequestReader.ParseJson(body, 784, false)
                  request.Pixels.Length = 784 && values.Length = 784 && values |> List.forall (fun v -> v.Get >= 0.0 && v.Get <= 1.0)
              with :? ApiException as e ->
                  e.Status = 400 && List.contains e.Code [ ApiErrorCode.WrongLength; ApiErrorCode.OutOfRange; ApiErrorCode.NotFinite ]

          testPropertyWithConfig config "any text: a shard is k/N with 1 <= k <= N, or refused" <| fun (NonNull (text: string)) ->
              try
                  let shard = Shard.parse text
                  shard.Index >= 1 && shard.Index <= shard.Count
              with :? MnistException -> true ]
