/// ONNX export: our protobuf writer and graphs, checked by running them in ONNX Runtime (a
/// test-only reference, never in the engine).
module Mnist.Tests.OnnxTests

open System
open Expecto
open Microsoft.ML.OnnxRuntime
open Microsoft.ML.OnnxRuntime.Tensors
open Mnist.Core.IO.Onnx

/// Runs a model in ONNX Runtime on one float input; returns the first output's values.
let runOnnx (model: byte[]) (inputName: string) (input: float32[]) (shape: int[]) =
    use options = new SessionOptions(IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL)
    use session = new InferenceSession(model, options)
    let tensor = DenseTensor<float32>(Memory<float32>(input), ReadOnlySpan<int>(shape))
    use results = session.Run([ NamedOnnxValue.CreateFromTensor(inputName, tensor) ])
    (Seq.head results).AsEnumerable<float32>() |> Seq.toArray

[<Tests>]
let tests =
    testList "Onnx" [
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
    ]
