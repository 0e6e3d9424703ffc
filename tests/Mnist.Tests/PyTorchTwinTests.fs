/// The PyTorch twin (scripts/pytorch_twin.py) builds every layer kind we have and gives our
/// logits on the same weights. Runs where Debian's python3-torch is installed; skipped elsewhere.
module Mnist.Tests.PyTorchTwinTests

open System
open System.IO
open Expecto
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.IO
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Cli
open Mnist.Tests.TestData

/// Every layer kind and activation, with non-default parameters where a kind has them: conv with
/// and without bias, both poolings (one strided), batch norm 2-D and 1-D, residual blocks with the
/// identity and the projection shortcut, global max pooling, activation names spelled the ways
/// our configs allow.
let everyKind =
    ModelConfig.FromJson """
    { "inputShape": [1, 28, 28], "numClasses": 10, "layers": [
        { "type": "conv2d", "out": 6, "kernel": 3, "pad": 1 },
        { "type": "batchnorm", "momentum": 0.2, "epsilon": 0.001 },
        { "type": "activation", "name": "leakyrelu", "slope": 0.2 },
        { "type": "maxpool", "size": 2 },
        { "type": "conv2d", "out": 8, "kernel": 3, "bias": false },
        { "type": "activation", "name": "elu", "alpha": 0.5 },
        { "type": "avgpool", "size": 3, "stride": 2 },
        { "type": "residual", "out": 8, "activation": "leaky_relu", "slope": 0.3 },
        { "type": "residual", "out": 12, "stride": 2, "activation": "tanh" },
        { "type": "activation", "name": "SiLU" },
        { "type": "globalmaxpool" },
        { "type": "flatten" },
        { "type": "dense", "out": 32 },
        { "type": "batchnorm" },
        { "type": "activation", "name": "sigmoid" },
        { "type": "dropout", "p": 0.3 },
        { "type": "dense", "out": 16 },
        { "type": "activation", "name": "relu" },
        { "type": "dense", "out": 10 } ] }"""

let private kindName (spec: LayerSpec) =
    // The "type" discriminator, as our JSON writes it.
    let json = ModelConfig([| 1 |], 2, [ spec ]).ToJson(false)
    let layers = Text.Json.JsonDocument.Parse(json).RootElement.GetProperty "layers"
    layers[0].GetProperty("type").GetString()

let private activationsOf (config: ModelConfig) =
    config.Layers |> Seq.choose (function
        | :? ActivationSpec as a -> Some a.Name
        | :? ResidualSpec as r -> Some r.Activation
        | _ -> None)
    |> Seq.map Activations.Canonical |> Set.ofSeq

/// Batch norm's running statistics and affine parameters moved off their initial 0 and 1, so a
/// twin that ignored any of them would be caught.
let private randomizeBatchNorms (network: Sequential) seed =
    let rng = Random(seed: int)
    let fill (t: Tensors.Tensor) low high = for i in 0 .. t.Length - 1 do t[i] <- low + float32 (rng.NextDouble()) * (high - low)
    for bn in LayerTree.Leaves network |> Seq.choose (function :? BatchNorm as bn -> Some bn | _ -> None) do
        fill bn.Gamma.Value 0.5f 1.5f
        fill bn.Beta.Value -0.5f 0.5f
        fill bn.RunningMean -0.5f 0.5f
        fill bn.RunningVar 0.5f 2f

let private twinMatches (config: ModelConfig) =
    if not (PyTorchTwin.torchInstalled ()) then
        skiptest "PyTorch is missing: install Debian's python3-torch and libopenblas0-pthread to run the twin tests"
    use dir = new TempDir()
    IdxTests.writeDataset dir.Path false 10 300
    let network = ModelBuilder.Build(config, 3UL)
    randomizeBatchNorms network 5
    let path = Path.Combine(dir.Path, "model.safetensors")
    ModelFile.Save(path, network, config, Normalization(0.5f, 0.3f))
    let result = PyTorchTwin.compare path (ModelFile.Load path) (MnistDataset.Load dir.Path) 300
    Expect.equal result.Count 300 "digits compared"
    Expect.isLessThanOrEqual result.MaxAbsDiff PyTorchTwin.Tolerance "largest logit difference"
    Expect.equal result.ArgmaxAgreement 1.0 "same predictions"

/// The light preset, altered and saved by `save`, then compared: the error the comparison raises.
let private twinRefuses save =
    if not (PyTorchTwin.torchInstalled ()) then skiptest "PyTorch is missing"
    use dir = new TempDir()
    IdxTests.writeDataset dir.Path false 10 20
    let config = Presets.Create "light"
    let path = Path.Combine(dir.Path, "model.safetensors")
    save (ModelBuilder.Build(config, 1UL)) path config
    throws<MnistException> (fun () ->
        PyTorchTwin.compare path (ModelFile.Load(path, "extra.")) (MnistDataset.Load dir.Path) 20 |> ignore)

[<Tests>]
let tests =
    testList "PyTorchTwin" [
        test "the every-kind config covers every layer type and activation" {
            let kinds = everyKind.Layers |> Seq.map kindName |> Set.ofSeq
            Expect.equal kinds (Set.ofSeq LayerKinds.Names) "layer types"
            let canonical = Activations.Names |> Seq.map Activations.Canonical |> Set.ofSeq
            Expect.equal (activationsOf everyKind) canonical "activations"
        }
        test "every layer kind: the twin's logits match ours" { twinMatches everyKind }
        for preset in Presets.Names do
            test $"{preset} preset: the twin's logits match ours" { twinMatches (Presets.Create preset) }
        test "a file with a tensor the config does not explain: the twin refuses it" {
            let e = twinRefuses (fun network path config ->
                ModelFile.Save(path, network, config, Normalization(0.5f, 0.3f), [ "extra.weight", Tensors.Tensor(3) ]))
            Expect.stringContains e.Message "PyTorch twin failed" "message"
        }
        test "a diverged model (NaN logits) is reported, not compared" {
            let e = twinRefuses (fun network path config ->
                let struct (_, first) = Seq.head network.NamedParameters
                first.Value[0] <- nanf
                ModelFile.Save(path, network, config, Normalization(0.5f, 0.3f)))
            Expect.stringContains e.Message "not all finite" "message"
        }
    ]
