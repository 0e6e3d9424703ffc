/// ONNX export: our protobuf writer, graphs and whole exported models, checked by running them in
/// ONNX Runtime (a test-only reference, never in the engine) against our own logits; and the
/// `mnist export` command's error cases.
module Mnist.Tests.OnnxTests

open System
open System.IO
open Expecto
open Microsoft.ML.OnnxRuntime
open Microsoft.ML.OnnxRuntime.Tensors
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.IO
open Mnist.Core.IO.Onnx
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Core.Tensors
open Mnist.Cli
open Mnist.Tests.TestData
open Mnist.Tests.ModelFixtures

/// Runs a model in ONNX Runtime on one float input; returns the first output's values.
let runOnnx (model: byte[]) (inputName: string) (input: float32[]) (shape: int[]) =
    use options = new SessionOptions(IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL)
    use session = new InferenceSession(model, options)
    let tensor = DenseTensor<float32>(Memory<float32>(input), ReadOnlySpan<int>(shape))
    use results = session.Run([ NamedOnnxValue.CreateFromTensor(inputName, tensor) ])
    (Seq.head results).AsEnumerable<float32>() |> Seq.toArray

/// The largest |logit difference| the export may show on any digit.
let tolerance = 1e-4f

/// MNIST's own statistics, as a trained model carries them.
let private mnistNormalization = Normalization(0.1307f, 0.3081f)

/// An exported model run in ONNX Runtime as a user would (default session options, graph
/// optimisations on): its logits and probabilities on [n, C, H, W] pixels in [0, 1].
let private runExported (model: byte[]) (pixels: float32[]) (shape: int[]) =
    use session = new InferenceSession(model)
    let tensor = DenseTensor<float32>(Memory<float32>(pixels), ReadOnlySpan<int>(shape))
    use results = session.Run([ NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, tensor) ])
    let output name = (results |> Seq.find (fun r -> r.Name = name)).AsEnumerable<float32>() |> Seq.toArray
    output OnnxExport.LogitsName, output OnnxExport.ProbabilitiesName

/// Our logits in evaluation mode on the same pixels, normalised as the Predictor does, 100 at a time.
let private ourLogits (network: Sequential) (normalization: Normalization) (pixels: float32[]) (sample: int[]) =
    let size = Tensor.CountOf sample
    let n = pixels.Length / size
    [| for first in 0 .. 100 .. n - 1 do
        let count = min 100 (n - first)
        let normalized = Array.zeroCreate (count * size)
        normalization.Apply(ReadOnlySpan(pixels, first * size, count * size), Span normalized)
        yield! network.Forward(Tensor(normalized, [| count; yield! sample |]), false).ToArray() |]

/// Runs the exported model in ONNX Runtime and checks it against ours: logits within the
/// tolerance, the same predictions, probabilities that are a softmax (each row sums to 1).
/// Returns the largest |logit difference|.
let private expectExportMatches (exported: byte[]) (network: Sequential) (config: ModelConfig) (normalization: Normalization) (pixels: float32[]) =
    let sample = config.InputShape
    let n = pixels.Length / Tensor.CountOf sample
    let logits, probabilities = runExported exported pixels [| n; yield! sample |]
    let ours = ourLogits network normalization pixels sample
    Expect.equal logits.Length ours.Length "one row of logits per image"
    let maxDiff = Array.map2 (fun (a: float32) b -> abs (a - b)) logits ours |> Array.max
    Expect.isLessThanOrEqual maxDiff tolerance $"largest |logit difference| over {n} images"
    let classes = config.NumClasses
    let argmax (row: float32[]) = Array.IndexOf(row, Array.max row)
    let rows (values: float32[]) = Array.chunkBySize classes values
    Expect.sequenceEqual (rows logits |> Array.map argmax) (rows ours |> Array.map argmax) "the same predictions"
    for row in rows probabilities do
        Expect.floatClose { absolute = 1e-5; relative = 0.0 } (Array.sumBy float row) 1.0 "probabilities sum to 1"
        Expect.all row (fun p -> p >= 0.0f) "probabilities are not negative"
    Expect.sequenceEqual (rows probabilities |> Array.map argmax) (rows logits |> Array.map argmax) "probabilities rank as the logits"
    maxDiff

/// <see cref="expectExportMatches"/> on the network exported in memory, with MNIST's normalisation.
let private expectSameAsOurs (network: Sequential) (config: ModelConfig) (pixels: float32[]) =
    expectExportMatches (OnnxExport.ToBytes(network, config, mnistNormalization, "test")) network config mnistNormalization pixels

/// A network of the config with seeded random weights and batch-norm statistics moved off 0/1.
let private randomNetwork (config: ModelConfig) =
    let network = ModelBuilder.Build(config, 11UL)
    randomizeBatchNorms network 13
    network

/// The first 1,000 test digits as float32 pixels in [0, 1], [N, 1, 28, 28] in order.
let private realDigits = lazy (
    let test = (MnistDataset.Load mnistDir).Test.Take 1000
    Array.map (fun (b: byte) -> float32 b / 255.0f) test.Pixels)

let private randomPixels seed count =
    let rng = Random(seed: int)
    Array.init (count * 784) (fun _ -> float32 (rng.NextDouble()))

/// A dense layer straight after a convolution (no flatten): Gemm needs a flattened input.
let private denseOnImages =
    ModelConfig.FromJson """
    { "inputShape": [1, 28, 28], "numClasses": 10, "layers": [
        { "type": "conv2d", "out": 4, "kernel": 5, "stride": 3 },
        { "type": "activation", "name": "relu" },
        { "type": "dense", "out": 10 } ] }"""

let private pythonOnnx () =
    File.Exists PyTorchTwin.systemPython
    && (let code, _ = Mnist.TestProcesses.run PyTorchTwin.systemPython [ "-c"; "import onnx" ] (TimeSpan.FromMinutes 1.0) in code = 0)

let private graphTests =
    testList "graph" [
        test "a hand-built graph (Gemm, Relu) runs in ONNX Runtime with the expected values" {
            let g = OnnxGraph()
            let x = g.Input("x", [ 3 ])
            let w = g.Initializer("w", ReadOnlySpan [| 1.0f; 2.0f; 3.0f; -1.0f; -2.0f; -3.0f |], 2L, 3L)
            let b = g.Initializer("b", ReadOnlySpan [| 0.5f; 0.25f |], 2L)
            let y = g.Node("Gemm", [ x; w; b ], OnnxAttribute.Of("transB", 1L))
            g.Output("y", g.Node("Relu", [ y ]), [ 2 ])
            let model = g.ToModel("test", "0", "a test", [ Collections.Generic.KeyValuePair("k", "v") ])
            let output = runOnnx model "x" [| 1.0f; 1.0f; 1.0f; 2.0f; 0.0f; -1.0f |] [| 2; 3 |]
            // row 1: [6.5, max(0, -5.75)], row 2: [2 - 3 + 0.5, max(0, -2 + 3 + 0.25)]
            Expect.sequenceEqual output [| 6.5f; 0.0f; 0.0f; 1.25f |] "x·Wᵀ + b, then ReLU"
        }

        test "value names are unique: an initializer cannot reuse a name" {
            let g = OnnxGraph()
            g.Initializer("w", ReadOnlySpan [| 1.0f |], 1L) |> ignore
            Expect.throwsT<ArgumentException> (fun () -> g.Initializer("w", ReadOnlySpan [| 1.0f |], 1L) |> ignore) "duplicate"
        }

        test "an exported model: input pixels [batch, 1, 28, 28], outputs logits and probabilities [batch, 10], our metadata" {
            let config = Presets.Create "light"
            let model = OnnxExport.ToBytes(ModelBuilder.Build(config, 1UL), config, mnistNormalization, "9.9.9+abc")
            use session = new InferenceSession(model)
            let input = session.InputMetadata[OnnxExport.InputName]
            Expect.sequenceEqual input.Dimensions [| -1; 1; 28; 28 |] "input shape (a free batch axis)"
            Expect.sequenceEqual input.SymbolicDimensions [| "batch"; ""; ""; "" |] "the batch axis is named"
            for name in [ OnnxExport.LogitsName; OnnxExport.ProbabilitiesName ] do
                Expect.sequenceEqual session.OutputMetadata[name].Dimensions [| -1; 10 |] $"{name} shape"
            let meta = session.ModelMetadata
            Expect.equal meta.ProducerName "Mnist.Experiments" "producer"
            let custom = meta.CustomMetadataMap
            Expect.isTrue ((ModelConfig.FromJson custom[ModelFile.ConfigKey]).SameAs config) "the model config"
            Expect.equal custom[ModelFile.NormalizationKey] """{"mean":0.1307,"std":0.3081}""" "the normalisation"
            Expect.equal custom[OnnxExport.EngineKey] EngineVersion.Current "engine version"
            Expect.equal custom[OnnxExport.AppKey] "9.9.9+abc" "app version"
        }

        test "every layer kind and activation on random images: ONNX Runtime's logits match ours" {
            expectSameAsOurs (randomNetwork everyKind) everyKind (randomPixels 1 64) |> ignore
        }

        test "a dense layer on an image-shaped input is flattened for Gemm" {
            expectSameAsOurs (randomNetwork denseOnImages) denseOnImages (randomPixels 2 16) |> ignore
        }

        test "onnx.checker accepts the every-kind export, whose weights are named as in the model file" {
            if not (pythonOnnx ()) then skiptest "Debian's python3-onnx is missing (.ci/run installs it)"
            use dir = new TempDir()
            let network = randomNetwork everyKind
            let path = Path.Combine(dir.Path, "every-kind.onnx")
            File.WriteAllBytes(path, OnnxExport.ToBytes(network, everyKind, mnistNormalization, "test"))
            let script =
                "import sys, onnx\n" +
                "m = onnx.load(sys.argv[1])\n" +
                "onnx.checker.check_model(m, full_check=True)\n" +
                "print(' '.join(sorted(i.name for i in m.graph.initializer)))"
            let code, output = Mnist.TestProcesses.run PyTorchTwin.systemPython [ "-c"; script; path ] (TimeSpan.FromMinutes 2.0)
            Expect.equal code 0 $"the checker accepts the model: {output}"
            let expected =
                [ yield "normalization.mean"; yield "normalization.std"
                  for struct (name, _) in ModelFile.NamedTensors network -> name ]
            Expect.equal (output.Trim().Split ' ' |> Set.ofArray) (Set.ofList expected) "initializers: the model file's tensors and the normalisation"
        }
    ]

/// Heavy (1,000 digits each): one at a time, so they do not fight the other tests for the two cores.
let private realDigitTests =
    testSequenced <| testList "real digits" [
        for name, config in [ for p in Presets.Names -> p, Presets.Create p ] @ [ "every-kind", everyKind ] do
            test $"{name}: ONNX Runtime's logits match ours on 1,000 real test digits" {
                if mnistDir = "" then skiptest "MNIST is not available (the Test target fetches it first)"
                let maxDiff = expectSameAsOurs (randomNetwork config) config realDigits.Value
                printfn "ONNX export, %s: max |logit difference| %.2e over 1000 test digits" name maxDiff
            }
    ]

/// Runs `mnist export` with the arguments: exit code, standard output, standard error.
let private export (args: string list) =
    Mnist.TestProcesses.mnist ("export" :: args) [] (TimeSpan.FromMinutes 2.0)

/// A saved light model with random weights, in a fresh folder.
let private savedModel (dir: TempDir) =
    let config = Presets.Create "light"
    let network = ModelBuilder.Build(config, 5UL)
    let path = Path.Combine(dir.Path, "model.safetensors")
    ModelFile.Save(path, network, config, mnistNormalization)
    path, network, config

/// `mnist export` refuses: exit 1, one `error:` line containing <paramref name="why"/>, nothing
/// said on the standard output, and the folder's files unchanged (no output, no temporary file).
let private expectRefused (dir: TempDir) (args: string list) (why: string) =
    let before = Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories) |> Set.ofArray
    let code, output, errors = export args
    Expect.equal code 1 $"exit 1 ({output}{errors})"
    let lines = errors.Trim().Split('\n')
    Expect.equal lines.Length 1 $"one line: {errors}"
    Expect.stringStarts lines[0] "error: " "an error line"
    Expect.stringContains lines[0] why "says why"
    Expect.equal (output.Trim()) "" "nothing else said"
    let after = Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories) |> Set.ofArray
    Expect.equal after before "nothing written"

let private cliTests =
    testSequenced <| testList "cli" [
        test "mnist export writes the model beside itself, and ONNX Runtime's logits match ours" {
            use dir = new TempDir()
            let path, network, config = savedModel dir
            let code, output, errors = export [ "--format"; "onnx"; "--model"; path ]
            Expect.equal code 0 $"exit 0 ({errors})"
            let onnx = Path.Combine(dir.Path, "model.onnx")
            Expect.stringContains output $"wrote {onnx}" "says where"
            let pixels = randomPixels 3 8
            let logits, _ = runExported (File.ReadAllBytes onnx) pixels [| 8; 1; 28; 28 |]
            let ours = ourLogits network mnistNormalization pixels config.InputShape
            Expect.isLessThanOrEqual (Array.map2 (fun (a: float32) b -> abs (a - b)) logits ours |> Array.max) tolerance "logits"
            Expect.sequenceEqual (Directory.GetFiles dir.Path |> Array.map Path.GetFileName |> Array.sort)
                [| "model.onnx"; "model.safetensors" |] "no temporary file left"
        }

        for preset in [ "classic"; "resnet" ] do
            test $"a trained {preset} model (mnist train, then mnist export): ONNX Runtime's logits match ours on 1,000 real test digits" {
                if mnistDir = "" then skiptest "MNIST is not available (the Test target fetches it first)"
                use dir = new TempDir()
                let trained = Path.Combine(dir.Path, preset)
                let code, _, errors =
                    Mnist.TestProcesses.mnist
                        [ "train"; "--preset"; preset; "--limit"; "5000"; "--test-limit"; "100"; "--epochs"; "1"
                          "--data-dir"; mnistDir; "--out"; trained ] [] (TimeSpan.FromMinutes 10.0)
                Expect.equal code 0 $"trains ({errors})"
                let modelPath = Path.Combine(trained, "model.safetensors")
                let onnx = Path.Combine(dir.Path, $"{preset}.onnx")
                let code, _, errors = export [ "--format"; "onnx"; "--model"; modelPath; "--out"; onnx ]
                Expect.equal code 0 $"exports ({errors})"
                let model = ModelFile.Load modelPath
                let maxDiff = expectExportMatches (File.ReadAllBytes onnx) model.Network model.Config model.Normalization realDigits.Value
                printfn "ONNX export, trained %s: max |logit difference| %.2e over 1000 test digits" preset maxDiff
            }

        test "a corrupt, truncated, unknown or missing model file: one clear line, exit 1, nothing written" {
            use dir = new TempDir()
            let good, _, _ = savedModel dir
            let file name (bytes: byte[]) =
                let path = Path.Combine(dir.Path, name)
                File.WriteAllBytes(path, bytes)
                path
            let junk = file "junk.safetensors" (Text.Encoding.ASCII.GetBytes "this is not a model at all")
            let goodBytes = File.ReadAllBytes good
            let truncated = file "truncated.safetensors" goodBytes[.. goodBytes.Length / 2]
            let unknown = Path.Combine(dir.Path, "unknown.safetensors")
            SafeTensors.Write(unknown, [| struct ("weight", Tensor(3)) |])
            for path, why in
                [ junk, "is not a valid safetensors file"
                  truncated, "is not a valid safetensors file"
                  unknown, "not a Mnist.Experiments model"
                  Path.Combine(dir.Path, "missing.safetensors"), "not found" ] do
                expectRefused dir [ "--format"; "onnx"; "--model"; path; "--out"; Path.Combine(dir.Path, "out.onnx") ] why
        }

        test "an unknown --format or an unwritable --out: one clear line, exit 1, nothing written" {
            use dir = new TempDir()
            let model, _, _ = savedModel dir
            expectRefused dir [ "--format"; "tflite"; "--model"; model ] "unknown export format 'tflite'; formats: onnx"
            expectRefused dir [ "--format"; "onnx"; "--model"; model; "--out"; Path.Combine(model, "m.onnx") ] "cannot write"
            expectRefused dir [ "--format"; "onnx"; "--model"; model; "--out"; dir.Path ] "is a folder"
            expectRefused dir [ "--format"; "onnx"; "--model"; model; "--out"; model ] "is the model file itself"
        }
    ]

[<Tests>]
let tests = testList "Onnx" [ graphTests; realDigitTests; cliTests ]
