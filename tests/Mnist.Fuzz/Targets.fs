/// The parsers of outside input the command line and the training code use, as fuzz targets. Each
/// accepts or refuses with a MnistException (the CLI prints those as one `error:` line and exits
/// 1); an accepted input is checked for what makes it correct.
module Mnist.Fuzz.Targets

open System
open System.IO
open System.Text
open System.Text.Json.Nodes
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.Imaging
open Mnist.Core.Inference
open Mnist.Core.IO
open Mnist.Core.Models
open Mnist.Experiments
open Mnist.Imaging
open Mnist.Fuzz.Harness
open Mnist.Fuzz.Mutations

/// A failed check on an accepted input: a bug, reported as a crash.
exception WrongResult of string

let check condition what = if not condition then raise (WrongResult what)

/// Runs a CLI-side parser: a MnistException is our refusal (named by its type), anything else escapes as a crash.
let private refusing (run: unit -> unit) =
    try
        run ()
        Accepted
    with
    | :? ImageFormatException as e -> Refused e.Code
    | :? MnistException as e -> Refused(e.GetType().Name)

let private finite (values: float32 seq) = values |> Seq.forall Single.IsFinite

let imageDecoding =
    { Name = "image-decoding"
      Seeds = Seeds.images
      Mutators = png @ jpeg
      Run = fun input ->
        refusing (fun () ->
            let digit = ImageDecoder.PrepareDigit(ReadOnlySpan input)
            check (digit.Pixels.Length = 784 && digit.Size = 28) "a 28x28 digit"
            check (digit.Pixels |> Array.forall (fun v -> v >= 0.0f && v <= 1.0f)) "pixels in [0,1]"
            check (not digit.IsEmpty || Array.forall ((=) 0.0f) digit.Pixels) "an empty digit is blank") }

let safeTensors =
    { Name = "safetensors"
      Seeds = Seeds.tensorFiles
      Mutators = safetensors
      Run = fun input ->
        refusing (fun () ->
            let file = SafeTensors.Parse(input, "fuzz.safetensors")
            let bytes = file.Tensors.Values |> Seq.sumBy (fun t -> 4L * int64 t.Length)
            check (bytes <= int64 input.Length) "tensors fit in the file"
            // what is read writes back and reads again the same
            let again = SafeTensors.Parse(SafeTensors.Serialize(ResizeArray [ for kv in file.Tensors -> struct (kv.Key, kv.Value) ], file.Metadata), "again")
            check (again.Tensors.Count = file.Tensors.Count) "round trip") }

let modelFiles =
    { Name = "model-file"
      Seeds = Seeds.models
      Mutators = safetensors
      Run = fun input ->
        refusing (fun () ->
            let model = ModelFile.Load(SafeTensors.Parse(input, "fuzz-model.safetensors"))
            let pixels = model.Config.InputShape |> Array.fold (*) 1
            let probabilities = Predictor(model).Predict(ReadOnlySpan(Array.create pixels 0.5f)).Probabilities
            check (probabilities.Length = model.Config.NumClasses) "one probability per class"
            // the command line shows what any model says; the server refuses models with NaN weights
            let weightsFinite = ModelFile.NamedTensors model.Network |> Seq.forall (fun struct (_, t) -> finite (t.Span.ToArray()))
            if not weightsFinite then
                let served = try Mnist.Web.ServedModel.CheckServable(model, "fuzz"); true with :? MnistException -> false
                check (not served) "the server refuses a model with NaN weights") }

let idxFiles =
    { Name = "idx"
      Seeds = Seeds.idxFiles
      Mutators = idx
      Run = fun input ->
        refusing (fun () ->
            let rank = if input.Length > 3 && input[3] = 1uy then 1 else 3
            let array = IdxFile.Read(new MemoryStream(input), "fuzz-idx", rank)
            check (array.Dims |> Array.fold (fun n d -> n * int64 d) 1L = int64 array.Data.Length) "dimensions match the data") }

let sweepFiles =
    { Name = "sweep-json"
      Seeds = Seeds.sweeps
      Mutators = textLevel
      Run = fun input ->
        refusing (fun () ->
            let sweep = Sweep.parse "fuzz" (Encoding.UTF8.GetString input)
            let runs = Sweep.expand sweep
            check (runs.Length <= Sweep.MaxPoints) "a bounded sweep"
            for run in runs do check (run.Id.Length = 12 && run.Id |> Seq.forall Uri.IsHexDigit) "12-hex-digit run ids") }

let ensembleManifests =
    { Name = "ensemble-manifest"
      Seeds = Seeds.manifests
      Mutators = textLevel
      Run = fun input ->
        refusing (fun () ->
            let manifest = EnsembleManifest.Parse(ReadOnlySpan input, "fuzz/ensemble.json")
            check (manifest.Members.Count >= 1 && manifest.Members.Count <= EnsembleManifest.MaxMembers) "a bounded number of members"
            for m in manifest.Members do
                check (m.File = Path.GetFileName m.File && m.File.IndexOfAny([| '/'; '\\' |]) < 0) "member files stay beside the manifest"
            // what is read writes back and reads again the same
            let again = EnsembleManifest.Parse(ReadOnlySpan(Encoding.UTF8.GetBytes(manifest.ToJson())), "again")
            check (again.ToJson() = manifest.ToJson()) "round trip") }

let modelConfigs =
    { Name = "model-config"
      Seeds = Seeds.configs
      Mutators = textLevel
      Run = fun input ->
        refusing (fun () ->
            let config = ModelConfig.FromJson(Encoding.UTF8.GetString input)
            let network = ModelBuilder.Build(config, 1UL)
            let parameters = ModelFile.NamedTensors network |> Seq.sumBy (fun struct (_, t) -> int64 t.Length)
            check (parameters <= ModelLimits.MaxParameters + (4L <<< 20)) "within the parameter limit") }

/// The targets that need no server; Web.fs adds the HTTP ones.
let local = [ imageDecoding; safeTensors; modelFiles; idxFiles; sweepFiles; modelConfigs; ensembleManifests ]
