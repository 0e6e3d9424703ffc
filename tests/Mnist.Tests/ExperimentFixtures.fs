/// Small fixtures for the experiment tests: a synthetic dataset that trains in a blink, a tiny
/// spec, and runner options that write into a temporary results folder.
module Mnist.Tests.ExperimentFixtures

open System
open System.IO
open System.Text.Json.Nodes
open Mnist.Core.Data
open Mnist.Experiments

/// Digits drawn as a class-specific bar pattern plus seeded noise: learnable, deterministic.
let private split (count: int) (seed: int) =
    let random = Random(seed)
    let labels = Array.init count (fun i -> byte (i % 10))
    let pixels = Array.zeroCreate<byte> (count * 28 * 28)
    for i in 0 .. count - 1 do
        let label = int labels[i]
        for y in 0 .. 27 do
            for x in 0 .. 27 do
                let ink = (x / 3 = label || y / 3 = (9 - label)) && random.NextDouble() < 0.9
                pixels[i * 784 + y * 28 + x] <- if ink then byte (180 + random.Next 75) else byte (random.Next 40)
    MnistSplit(pixels, labels, 28, 28)

/// 240 training and 120 test images.
let tinyData = lazy (MnistDataset(split 240 1, split 120 2, "synthetic"))

/// The tiniest network: the light preset at a quarter width (2, 4 and 8 channels).
let tinySpec =
    { ExperimentSpec.defaults with
        Preset = "light"
        Width = 0.25
        Epochs = 2
        BatchSize = 32
        LearningRate = 0.05f
        Validation = 40 }

/// A sweep over the tiny spec: 2 learning rates × 2 activations.
let tinySweepText =
    """{ "name": "tiny", "base": { "preset": "light", "width": 0.25, "epochs": 2, "batchSize": 32, "validation": 40 },
         "grid": { "learningRate": [0.05, 0.1], "activation": ["relu", "tanh"] } }"""

let tinySweep () = Sweep.parse "tiny" tinySweepText

let options (results: string) =
    { RunnerOptions.Defaults results with LoadData = Some(fun _ -> tinyData.Value) }

let obj (json: string) = JsonNode.Parse(json).AsObject()

/// The repository's experiments folder, found above the test assembly.
let experimentsDir =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "experiments/ not found above the test assembly"
        elif File.Exists(Path.Combine(dir.FullName, "experiments", "quick.json")) then Path.Combine(dir.FullName, "experiments")
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// Folder names directly under a folder.
let subfolders (dir: string) =
    if Directory.Exists dir then Directory.GetDirectories dir |> Array.map Path.GetFileName |> Array.sort else [||]
