/// Every layer, activation, the loss and whole networks against central differences.
module Mnist.Tests.GradCheckTests

open System
open Expecto
open Mnist.Core
open Mnist.Core.GradCheck
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Core.Tensors
open Mnist.Tests.LayerHelpers

/// Set MNIST_GRADCHECK_VERBOSE=1 to print every report, passing or not.
let private verbose = not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "MNIST_GRADCHECK_VERBOSE"))

let private expectPass (report: GradCheckReport) =
    if verbose then printfn "%s\n" report.Report
    Expect.isTrue report.Passed ("gradient check failed:\n" + report.Report)

/// A layer to check: a fresh instance with random parameters and its input.
type private LayerCase =
    { Name: string
      Make: unit -> Layer
      Input: unit -> Tensor
      Training: bool
      /// Options for the float32 check (the float64 one uses its defaults).
      Options: GradCheckOptions }

let private case name make input =
    { Name = name; Make = make; Input = input; Training = true; Options = GradCheckOptions() }

/// Gaussian input, clear of kinks by `margin`.
let private gaussian margin shape () = randomTensor 7UL margin shape

/// Blocks chain five float32 layers: their rounding (and, at ReLU, kinks the checker steps
/// around) costs about a percent on small elements, so 2%. The float64 list holds them to 1e-3.
let private block = GradCheckOptions(Tolerance = 2e-2)

let private layerCases =
    [ case "conv2d 3x3 stride 1 pad 1" (fun () -> Conv2D(2, 3, 3, 1, 1)) (gaussian 0.0f [| 2; 2; 5; 5 |])
      case "conv2d 5x5 stride 2 pad 2" (fun () -> Conv2D(2, 3, 5, 2, 2)) (gaussian 0.0f [| 2; 2; 7; 6 |])
      case "conv2d 1x1 stride 2 without bias" (fun () -> Conv2D(3, 2, 1, 2, 0, false)) (gaussian 0.0f [| 2; 3; 5; 5 |])
      case "conv2d 2x2 stride 3 no pad" (fun () -> Conv2D(1, 2, 2, 3, 0)) (gaussian 0.0f [| 3; 1; 8; 8 |])
      case "dense" (fun () -> Dense(7, 5)) (gaussian 0.0f [| 3; 7 |])
      case "dense on an image-shaped input" (fun () -> Dense(12, 4)) (gaussian 0.0f [| 2; 3; 2; 2 |])
      case "flatten" (fun () -> Flatten()) (gaussian 0.0f [| 2; 3; 2; 2 |])
      // A shuffled ramp: no near-ties inside a pooling window.
      case "maxpool 2x2 stride 2" (fun () -> MaxPool2D(2)) (fun () -> distinctTensor 5UL 0.05f [| 2; 2; 6; 6 |])
      case "maxpool 3x3 stride 2 (overlapping windows)" (fun () -> MaxPool2D(3, 2)) (fun () -> distinctTensor 6UL 0.05f [| 2; 2; 7; 7 |])
      case "avgpool 2x2" (fun () -> AvgPool2D(2)) (gaussian 0.0f [| 2; 3; 4; 6 |])
      case "avgpool 3x3 stride 1" (fun () -> AvgPool2D(3, 1)) (gaussian 0.0f [| 2; 2; 5; 5 |])
      { case "dropout in evaluation" (fun () -> Dropout(0.5f, Rng(1UL))) (gaussian 0.0f [| 3; 10 |]) with Training = false }
      case "batchnorm1d in training" (fun () -> BatchNorm1D(5)) (gaussian 0.0f [| 6; 5 |])
      case "batchnorm2d in training" (fun () -> BatchNorm2D(3)) (gaussian 0.0f [| 3; 3; 4; 4 |])
      { case "batchnorm2d in evaluation"
            (fun () ->
                let bn = BatchNorm2D(3)
                bn.Forward(randomTensor 3UL 0.0f [| 4; 3; 3; 3 |], true) |> ignore // running statistics
                bn)
            (gaussian 0.0f [| 2; 3; 3; 3 |]) with Training = false } ]
    @ [ for name in [ "relu"; "leakyrelu"; "elu"; "swish"; "sigmoid"; "tanh" ] ->
          case ("activation " + name) (fun () -> Activations.Create(name, slope = 0.1f, alpha = 0.7f)) (gaussian 0.1f [| 3; 4; 2; 2 |]) ]
    @ [ { case "residual block, identity shortcut, swish" (fun () -> ResidualBlock(3, 3, 1, "swish")) (gaussian 0.0f [| 2; 3; 5; 5 |]) with Options = block }
        { case "residual block, projection stride 2, tanh" (fun () -> ResidualBlock(2, 4, 2, "tanh")) (gaussian 0.0f [| 2; 2; 6; 6 |]) with Options = block }
        // ReLU kinks inside the block cannot be kept out of reach by the input: the checker sees
        // sign changes and shrinks its step there.
        { case "residual block, identity shortcut, relu" (fun () -> ResidualBlock(2, 2, 1, "relu")) (gaussian 0.0f [| 2; 2; 5; 5 |]) with Options = block }
        { case "residual block, projection stride 2, relu" (fun () -> ResidualBlock(2, 3, 2, "relu")) (gaussian 0.0f [| 2; 2; 6; 6 |]) with Options = block } ]

let private float32Check (c: LayerCase) =
    test c.Name {
        let layer = c.Make() |> randomizeParameters 11UL 0.5f
        GradientChecker.CheckLayer(layer, c.Input(), c.Training, c.Options) |> expectPass
    }

let private float64Check (c: LayerCase) =
    test c.Name {
        let layer = c.Make() |> randomizeParameters 11UL 0.5f
        GradientChecker.CheckLayerFloat64(layer, c.Input(), c.Training) |> expectPass
    }

/// y = 2x whose backward claims 2.1: a checker that passes this is broken.
type private SlightlyWrong() =
    inherit Layer()
    let output = Tensor(0)
    let grad = Tensor(0)
    override _.Kind = "wrong"
    override _.OutputShape(s) = s
    override _.Forward(x, _) =
        output.Reshape(x.Shape.ToArray()) |> ignore
        let src = x.Span
        let dst = output.Span
        for i in 0 .. src.Length - 1 do dst.[i] <- 2.0f * src.[i]
        output
    override _.Backward(dy) =
        grad.Reshape(dy.Shape.ToArray()) |> ignore
        let src = dy.Span
        let dst = grad.Span
        for i in 0 .. src.Length - 1 do dst.[i] <- 2.1f * src.[i]
        grad

let private dropoutState (model: Sequential) =
    [ for layer in model.Layers do
        match layer with
        | :? Dropout as d -> yield d, d.Rng.State
        | _ -> () ]

let private resetDropout (saved: (Dropout * RngState) list) () =
    for (d, state) in saved do d.Rng.State <- state

[<Tests>]
let tests =
    testList "GradCheck" [
        testList "checker" [
            test "a 5% wrong gradient fails the check" {
                let report = GradientChecker.CheckLayer(SlightlyWrong(), randomTensor 1UL 0.0f [| 2; 3 |])
                Expect.isFalse report.Passed report.Report
                Expect.isGreaterThan report.MaxError 0.04 "error near 5%"
            }
            test "large tensors are sampled deterministically and the report names the worst element" {
                let layer = Dense(300, 4) |> randomizeParameters 3UL 0.1f
                let x = randomTensor 2UL 0.0f [| 2; 300 |]
                let options = GradCheckOptions(MaxSamples = 10)
                let a = GradientChecker.CheckLayer(layer, x, options = options)
                let b = GradientChecker.CheckLayer(layer, x, options = options)
                let weight = a.Results |> Seq.find (fun r -> r.Name = "weight")
                Expect.equal weight.Checked 10 "sampled"
                Expect.equal weight.Total 1200 "total"
                Expect.equal a.Report b.Report "same sample, same report"
                Expect.stringContains weight.Report "weight: max rel err" "readable line"
                expectPass a
            }
        ]

        testList "layers (float32 differences)" [
            yield! List.map float32Check layerCases
            test "dropout in training with a fixed mask" {
                let rng = Rng(9UL)
                let saved = rng.State
                let layer = Dropout(0.4f, rng)
                let x = randomTensor 4UL 0.0f [| 3; 20 |]
                GradientChecker.CheckLayer(layer, x, beforeForward = (fun () -> rng.State <- saved)) |> expectPass
            }
        ]

        testList "layers (float64 reference)" [
            yield! List.map float64Check layerCases
            test "dropout in training (the reference reuses the layer's mask)" {
                GradientChecker.CheckLayerFloat64(Dropout(0.4f, Rng(9UL)), randomTensor 4UL 0.0f [| 3; 20 |]) |> expectPass
            }
        ]

        testList "loss" [
            test "softmax cross-entropy" {
                let logits = randomTensor 5UL 0.0f [| 4; 10 |]
                GradientChecker.CheckLoss(logits, [| 3; 0; 9; 3 |]) |> expectPass
            }
            test "softmax cross-entropy with a confident wrong prediction" {
                let logits = tensorOf [| 2; 3 |] [| 8.0f; -3.0f; 1.0f; 0.5f; 0.2f; -0.1f |]
                GradientChecker.CheckLoss(logits, [| 1; 2 |]) |> expectPass
            }
        ]

        testList "networks" [
            test "classic network vs the float64 reference, batch 2, training with a dropout mask" {
                let model = ModelBuilder.Build(Presets.Create "classic", 1UL)
                let x = uniformTensor 21UL 0.0f 1.0f [| 2; 1; 28; 28 |]
                let options = GradCheckOptions(Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 16)
                let report = GradientChecker.CheckModelFloat64(model, x, [| 3; 7 |], true, options)
                Expect.equal report.Results.Count 9 "8 parameter tensors and the input"
                expectPass report
            }
            test "resnet preset (width 0.25) vs the float64 reference, batch 3, batch norm in training" {
                let model = ModelBuilder.Build(Presets.Create("resnet", 0.25), 2UL)
                let x = uniformTensor 22UL 0.0f 1.0f [| 3; 1; 28; 28 |]
                let options = GradCheckOptions(Epsilon = 1e-6, Tolerance = 1e-3, MaxSamples = 6)
                GradientChecker.CheckModelFloat64(model, x, [| 1; 4; 1 |], true, options) |> expectPass
            }
            test "resnet preset (width 0.25, swish) checked in float32 alone" {
                // Without the reference, float32 rounding of a long forward pass (~1e-7 of the loss)
                // limits the smallest elements: a large step with Richardson extrapolation, judged
                // per tensor vector.
                let model = ModelBuilder.Build(Presets.Create("resnet", 0.25, "swish"), 2UL)
                let x = uniformTensor 22UL 0.0f 1.0f [| 3; 1; 28; 28 |]
                let options = GradCheckOptions(Richardson = true, ByVector = true, Tolerance = 1e-2, MaxSamples = 6)
                GradientChecker.CheckModel(model, x, [| 1; 4; 1 |], true, options) |> expectPass
            }
        ]
    ]
