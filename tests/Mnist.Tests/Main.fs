module Mnist.Tests.Main

open Expecto
open Expecto.Impl

/// Prints the plain closing line CI counts (`tests: N passed, M failed`) after Expecto's own summary.
let private plainSummary (summary: TestRunSummary) =
    let failed = summary.failed.Length + summary.errored.Length
    printfn "tests: %d passed, %d failed" summary.passed.Length failed

[<EntryPoint>]
let main argv =
    let args = [ CLIArguments.Append_Summary_Handler(SummaryHandler plainSummary) ]
    runTestsInAssemblyWithCLIArgs args argv
