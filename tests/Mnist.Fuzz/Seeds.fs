/// Real, valid inputs the fuzzer starts from: MNIST digits (drawn, in every image format, and
/// photographed), real model files, real IDX files, the repository's sweeps, the presets' model
/// configs and the dashboard's own job requests.
module Mnist.Fuzz.Seeds

open System
open System.IO
open System.Net.Http
open System.Text
open Mnist
open Mnist.Core.Data
open Mnist.Core.Imaging
open Mnist.Core.IO
open Mnist.Core.Models
open Mnist.Fuzz.Harness

/// Test digits as 28 × 28 bytes (255 = ink): real MNIST when at hand, else strokes drawn here.
let digits =
    lazy
        (if Mnist.TestProgram.mnistDir <> "" then
             let test = (MnistDataset.Load Mnist.TestProgram.mnistDir).Test
             [ for i in 0..7 -> test.Image(i).ToArray() ]
         else
             [ for _, lines in Map.toList TestImages.strokes ->
                   let mask, w, _ = TestImages.drawStrokes 28 0.12 lines
                   mask |> Array.map (fun v -> byte (MathF.Round(v * 255.0f))) |> fun a -> (ignore w; a) ])

/// A digit drawn 4× larger black on white (112 × 112 grey), as a page or a scanner would give it.
let private drawn (digit: byte[]) =
    PixelImage(112, 112, PixelLayout.Grey, Array.init (112 * 112) (fun i -> 255uy - digit[(i / 112 / 4) * 28 + (i % 112) / 4]))

/// Image files: digits in all five formats, a transparent canvas, and two small photographs.
let images =
    lazy
        [ for i, digit in List.indexed digits.Value do
              let image = drawn digit
              yield! TestImages.everyFormat image |> List.map snd |> List.filter (fun _ -> i < 3 || i % 2 = 0)
          let ink = digits.Value.Head
          yield TestImages.png (PixelImage(56, 56, PixelLayout.Rgba, [| for i in 0 .. 56 * 56 - 1 do yield! [| 20uy; 40uy; 200uy; ink[(i / 56 / 2) * 28 + (i % 56) / 2] |] |]))
          for style in List.take 2 TestImages.photoStyles do
              yield TestImages.photograph { style with Width = 240; Height = 180 } (TestImages.mnistMask ink) ]

/// Model files: the presets as `mnist train` saves them (initialised, not trained: the same format).
let models =
    lazy
        [ for preset, width in [ "classic", 1.0; "light", 1.0; "resnet", 0.25 ] ->
              let config = Presets.Create(preset, width)
              let path = Path.Combine(Path.GetTempPath(), $"mnist-fuzz-{Guid.NewGuid():N}.safetensors")
              try
                  ModelFile.Save(path, ModelBuilder.Build(config, 1UL), config, Normalization(0.1307f, 0.3081f))
                  File.ReadAllBytes path
              finally File.Delete path ]

/// Plain safetensors files (no model metadata) next to the models.
let tensorFiles =
    lazy
        (let tensor (shape: int[]) = Mnist.Core.Tensors.Tensor(shape)
         [ SafeTensors.Serialize(ResizeArray [ struct ("a", tensor [| 2; 3 |]); struct ("b", tensor [| 4 |]) ], readOnlyDict [ "note", "fuzz" ])
           SafeTensors.Serialize(ResizeArray [ struct ("empty", tensor [| 0 |]); struct ("scalar", tensor [||]) ])
           models.Value[1] ])

/// IDX files: real test images and labels, raw and gzipped.
let idxFiles =
    lazy
        (let write (dims: int[]) (data: byte[]) gz =
            let path = Path.Combine(Path.GetTempPath(), $"mnist-fuzz-{Guid.NewGuid():N}" + (if gz then ".gz" else ""))
            try
                IdxFile.Write(path, dims, ReadOnlySpan data)
                File.ReadAllBytes path
            finally File.Delete path
         let images = Array.concat digits.Value
         let labels = Array.init digits.Value.Length byte
         [ for gz in [ false; true ] do
               yield write [| digits.Value.Length; 28; 28 |] images gz
               yield write [| labels.Length |] labels gz ])

/// The repository's sweep definitions.
let sweeps =
    lazy [ for file in Directory.GetFiles(Path.Combine(repositoryRoot.Value, "experiments"), "*.json") |> Array.sort -> File.ReadAllBytes file ]

/// Ensemble manifests as `mnist ensemble` writes them: two members, then three with a test-time augmentation.
let manifests =
    lazy
        [ for count, tta in [ 2, null; 3, "shifts" ] ->
              let members =
                  [ for i in 1..count ->
                        EnsembleMember($"member-{i}.safetensors", String(char (int '0' + i), 64), (if i = 1 then "0123456789ab" else null), Nullable 0.99) ]
              Encoding.UTF8.GetBytes(EnsembleManifest.For(members, tta, Nullable 0.995, Nullable 10000).ToJson()) ]

/// Model configs of the presets, as model files carry them.
let configs =
    lazy
        [ for preset in Presets.Names do
              for activation in [ "relu"; "leakyrelu"; "swish" ] ->
                  Encoding.UTF8.GetBytes(Presets.Create(preset, 0.5, activation).ToJson()) ]

/// Job requests as the dashboard's form sends them.
let jobRequests =
    lazy
        [ for body in
              [ """{"preset":"classic","width":1,"activation":"relu","optimizer":"nesterov","schedule":"onecycle","learningRate":0.05,"batchSize":64,"epochs":1,"seed":1,"limit":null}"""
                """{"preset":"light","width":0.5,"activation":"swish","optimizer":"adam","schedule":"cosine","learningRate":0.002,"batchSize":128,"epochs":3,"seed":7,"limit":5000,"validation":500}"""
                """{"preset":"resnet","epochs":2}""" ] -> Encoding.UTF8.GetBytes body ]

/// POST /api/predict JSON bodies: pixels of real digits, and data URLs of real image files.
let predictJson =
    lazy
        [ for digit in List.take 3 digits.Value do
              let numbers = digit |> Array.map (fun b -> (float32 b / 255.0f).ToString("0.###", Globalization.CultureInfo.InvariantCulture))
              yield Encoding.UTF8.GetBytes("{\"pixels\":[" + String.Join(",", numbers) + "]}")
          for kind, file in List.take 4 (TestImages.everyFormat (drawn digits.Value.Head)) ->
              Encoding.UTF8.GetBytes("{\"image\":\"" + Mnist.Imaging.ImageDataUrl.Of(file, "image/" + kind.ToLowerInvariant()) + "\",\"featureMaps\":true}") ]

/// The boundary of the multipart seeds (the target's content type names it).
let boundary = "fuzz-boundary-7MA4YWxkTrZu0gW"

/// POST /api/predict multipart bodies, as a browser's form upload writes them.
let multipart =
    lazy
        [ for file in List.take 4 images.Value ->
              use form = new MultipartFormDataContent(boundary)
              let part = new ByteArrayContent(file)
              part.Headers.ContentType <- Headers.MediaTypeHeaderValue "application/octet-stream"
              form.Add(part, "file", "digit")
              form.Add(new StringContent "7", "label")
              form.ReadAsByteArrayAsync().Result ]
