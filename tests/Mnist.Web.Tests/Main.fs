module Mnist.Web.Tests.Main

open System.IO
open Expecto
open Expecto.Impl

[<EntryPoint>]
let main argv =
    let mutable counts = (0, 0)
    let remember (summary: TestRunSummary) =
        counts <- (summary.passed.Length, summary.failed.Length + summary.errored.Length)
    // One test at a time: the tests share one trained model and a two-core machine, and the
    // concurrency they check is the server's own.
    let args = [ CLIArguments.No_Spinner; CLIArguments.Sequenced; CLIArguments.Append_Summary_Handler(SummaryHandler remember) ]
    let exitCode =
        try runTestsInAssemblyWithCLIArgs args argv
        finally try Directory.Delete(Fixture.scratchRoot, true) with _ -> ()
    // The plain closing line CI counts (written raw: Expecto pads its console lines).
    let passed, failed = counts
    stdout.Flush()
    use raw = System.Console.OpenStandardOutput()
    raw.Write(System.Text.Encoding.ASCII.GetBytes $"\ntests: {passed} passed, {failed} failed\n")
    if failed > 0 || passed = 0 then max exitCode 1 else exitCode
