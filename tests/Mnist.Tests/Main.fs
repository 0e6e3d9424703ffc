module Mnist.Tests.Main

open Expecto
open Expecto.Impl

[<EntryPoint>]
let main argv =
    let mutable counts = (0, 0)
    let remember (summary: TestRunSummary) =
        counts <- (summary.passed.Length, summary.failed.Length + summary.errored.Length)
    let args = [ CLIArguments.No_Spinner; CLIArguments.Append_Summary_Handler(SummaryHandler remember) ]
    let exitCode = runTestsInAssemblyWithCLIArgs args argv
    // The plain closing line CI counts. Expecto's console writer pads lines with spaces, so the
    // line goes straight to the standard output stream.
    let passed, failed = counts
    stdout.Flush()
    use raw = System.Console.OpenStandardOutput()
    raw.Write(System.Text.Encoding.ASCII.GetBytes $"\ntests: {passed} passed, {failed} failed\n")
    if failed > 0 || passed = 0 then max exitCode 1 else exitCode
