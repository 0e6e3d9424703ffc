/// Literal tensors and closeness checks for the layer tests (seeded random inputs are
/// Mnist.Core.GradCheck.RandomInputs).
module Mnist.Tests.LayerHelpers

open System
open Expecto
open Mnist.Core.Tensors

let tensorOf (shape: int[]) (values: float32[]) =
    let t = Tensor(shape)
    if values.Length <> t.Length then failwithf "%d values for shape %A" values.Length shape
    values.AsSpan().CopyTo(t.Span)
    t

let toArray (t: Tensor) = t.Span.ToArray()

let expectClose (tolerance: float32) (actual: float32[]) (expected: float32[]) (what: string) =
    Expect.equal actual.Length expected.Length (what + ": length")
    for i in 0 .. actual.Length - 1 do
        let scale = max 1.0f (abs expected.[i])
        if not (abs (actual.[i] - expected.[i]) <= tolerance * scale) then
            failtestf "%s: element %d is %g, expected %g" what i actual.[i] expected.[i]
