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
open Mnist.Tests.ModelFixtures

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
