/// Models the reference tests (the PyTorch twin, ONNX Runtime) share.
module Mnist.Tests.ModelFixtures

open System
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Core.Tensors

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

/// Batch norm's running statistics and affine parameters moved off their initial 0 and 1, so a
/// twin that ignored any of them would be caught.
let randomizeBatchNorms (network: Sequential) seed =
    let rng = Random(seed: int)
    let fill (t: Tensor) low high = for i in 0 .. t.Length - 1 do t[i] <- low + float32 (rng.NextDouble()) * (high - low)
    for bn in LayerTree.Leaves network |> Seq.choose (function :? BatchNorm as bn -> Some bn | _ -> None) do
        fill bn.Gamma.Value 0.5f 1.5f
        fill bn.Beta.Value -0.5f 0.5f
        fill bn.RunningMean -0.5f 0.5f
        fill bn.RunningVar 0.5f 2f
