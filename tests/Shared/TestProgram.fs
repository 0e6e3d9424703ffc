/// What both test programs share (this file is linked into each): where real MNIST is, and
/// the closing line CI counts.
module Mnist.TestProgram

open System
open System.IO
open Expecto
open Expecto.Impl

/// The real MNIST folder: MNIST_DATA when set, else ../shared/data/mnist above the repository.
let mnistDir =
    match Environment.GetEnvironmentVariable "MNIST_DATA" with
    | null | "" ->
        let rec up (dir: DirectoryInfo) =
            if isNull dir then None
            else
                let candidate = Path.Combine(dir.FullName, "shared", "data", "mnist")
                if Directory.Exists candidate then Some candidate else up dir.Parent
        up (DirectoryInfo AppContext.BaseDirectory) |> Option.defaultValue ""
    | dir -> Path.GetFullPath dir

/// Runs the assembly's tests with No_Spinner, the given arguments and a summary handler; runs
/// afterTests however they end; then writes the plain closing line CI counts and returns the
/// exit code (non-zero also when nothing passed).
let run (args: CLIArguments list) (argv: string[]) (afterTests: unit -> unit) =
    let mutable counts = (0, 0)
    let remember (summary: TestRunSummary) =
        counts <- (summary.passed.Length, summary.failed.Length + summary.errored.Length)
    let args = [ CLIArguments.No_Spinner ] @ args @ [ CLIArguments.Append_Summary_Handler(SummaryHandler remember) ]
    let exitCode =
        try runTestsInAssemblyWithCLIArgs args argv
        finally afterTests ()
    // Expecto's console writer pads lines with spaces, so the line goes straight to the
    // standard output stream.
    let passed, failed = counts
    stdout.Flush()
    use raw = Console.OpenStandardOutput()
    raw.Write(Text.Encoding.ASCII.GetBytes $"\ntests: {passed} passed, {failed} failed\n")
    if failed > 0 || passed = 0 then max exitCode 1 else exitCode
