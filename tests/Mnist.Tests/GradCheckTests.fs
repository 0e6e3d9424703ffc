/// The gradient checker itself, and every case of GradCheckSuite (layers, activations, the loss,
/// whole networks) as a test.
module Mnist.Tests.GradCheckTests

open System
open Expecto
open Mnist.Core.GradCheck
open Mnist.Core.Layers
open Mnist.Core.Tensors

/// Set MNIST_GRADCHECK_VERBOSE=1 to print every report, passing or not.
let private verbose = not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "MNIST_GRADCHECK_VERBOSE"))

/// A case of the shared suite as an Expecto test.
let private suiteTest (c: GradCheckCase) =
    test c.Name {
        let report = c.Run.Invoke()
        if verbose then printfn "%s\n" report.Report
        Expect.isTrue (c.Accepts report) (c.Complaint report)
    }

/// y = 2x whose backward claims 2.1: a checker that passes this is broken.
type private SlightlyWrong() =
    inherit Layer()
    let output = Tensor(0)
    let grad = Tensor(0)
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

[<Tests>]
let tests =
    testList "GradCheck" [
        yield testList "checker" [
            test "a 5% wrong gradient fails the check" {
                let report = GradientChecker.CheckLayer(SlightlyWrong(), RandomInputs.Gaussian(1UL, 0.0f, 2, 3))
                Expect.isFalse report.Passed report.Report
                Expect.isGreaterThan report.MaxError 0.04 "error near 5%"
            }
            test "large tensors are sampled deterministically and the report names the worst element" {
                let layer = RandomInputs.RandomizeParameters(Dense(300, 4), 3UL, 0.1f)
                let x = RandomInputs.Gaussian(2UL, 0.0f, 2, 300)
                let options = GradCheckOptions(MaxSamples = 10)
                let a = GradientChecker.CheckLayer(layer, x, options = options)
                let b = GradientChecker.CheckLayer(layer, x, options = options)
                let weight = a.Results |> Seq.find (fun r -> r.Name = "weight")
                Expect.equal weight.Checked 10 "sampled"
                Expect.equal weight.Total 1200 "total"
                Expect.equal a.Report b.Report "same sample, same report"
                Expect.stringContains weight.Report "weight: max rel err" "readable line"
                Expect.isTrue a.Passed a.Report
            }
        ]

        // The cases `mnist gradcheck` runs, one test list per group.
        for group, cases in Seq.groupBy (fun (c: GradCheckCase) -> c.Group) GradCheckSuite.Cases do
            yield testList group [ for c in cases -> suiteTest c ]
    ]
