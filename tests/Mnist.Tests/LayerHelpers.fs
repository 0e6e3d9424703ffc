/// Tensors and layers for the layer and gradient-check tests.
module Mnist.Tests.LayerHelpers

open System
open Expecto
open Mnist.Core
open Mnist.Core.Layers
open Mnist.Core.Tensors

let tensorOf (shape: int[]) (values: float32[]) =
    let t = Tensor(shape)
    if values.Length <> t.Length then failwithf "%d values for shape %A" values.Length shape
    values.AsSpan().CopyTo(t.Span)
    t

let toArray (t: Tensor) = t.Span.ToArray()

/// Standard normal values, redrawn while |x| < margin so ReLU-like kinks stay out of reach of the
/// checker's perturbation.
let randomTensor (seed: uint64) (margin: float32) (shape: int[]) =
    let rng = Rng(seed)
    let t = Tensor(shape)
    let s = t.Span
    for i in 0 .. t.Length - 1 do
        let mutable v = rng.NextGaussian()
        while abs v < margin do v <- rng.NextGaussian()
        s.[i] <- v
    t

let uniformTensor (seed: uint64) (lo: float32) (hi: float32) (shape: int[]) =
    let rng = Rng(seed)
    let t = Tensor(shape)
    let s = t.Span
    for i in 0 .. t.Length - 1 do s.[i] <- lo + (hi - lo) * rng.NextFloat()
    t

/// A shuffled ramp with steps of `gap`: no two values are close, so max pooling has no near-ties.
let distinctTensor (seed: uint64) (gap: float32) (shape: int[]) =
    let t = Tensor(shape)
    let order = Array.init t.Length id
    Rng(seed).Shuffle(order.AsSpan())
    let s = t.Span
    for i in 0 .. t.Length - 1 do s.[i] <- (float32 order.[i] - float32 t.Length / 2.0f) * gap
    t

/// Gives every parameter random values (weights, biases, batch-norm scales alike).
let randomizeParameters (seed: uint64) (scale: float32) (layer: Layer) =
    let rng = Rng(seed)
    for p in layer.Parameters do
        let s = p.Value.Span
        for i in 0 .. s.Length - 1 do s.[i] <- scale * rng.NextGaussian()
    layer

let expectClose (tolerance: float32) (actual: float32[]) (expected: float32[]) (what: string) =
    Expect.equal actual.Length expected.Length (what + ": length")
    for i in 0 .. actual.Length - 1 do
        let scale = max 1.0f (abs expected.[i])
        if not (abs (actual.[i] - expected.[i]) <= tolerance * scale) then
            failtestf "%s: element %d is %g, expected %g" what i actual.[i] expected.[i]
