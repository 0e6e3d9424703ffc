/// What both test programs share (this file is linked into each): where real MNIST is, and
/// the closing line CI counts.
module Mnist.TestProgram

open System
open System.IO
open Expecto
open Expecto.Impl

/// The real MNIST folder: MNIST_DATA when set, else the per-user cache that `mnist data fetch`
/// (the Test target's Data step) fills; "" when neither holds the files.
let mnistDir =
    let options = Mnist.Core.Data.DataOptions.FromEnvironment()
    let dir = options.DataDir |> Option.ofObj |> Option.defaultValue options.CacheDir
    let holdsMnist =
        Directory.Exists dir
        && Mnist.Core.Data.MnistFiles.All |> Seq.forall (fun name -> not (isNull (Mnist.Core.Data.MnistFiles.Find(dir, name))))
    if holdsMnist then Path.GetFullPath dir else ""

/// Runs the assembly's tests with No_Spinner, the given arguments and a summary handler; runs
/// afterTests however they end; then writes the plain closing line CI counts (skipped tests
/// included, so nothing is left out silently) and returns the exit code: non-zero on a failure,
/// and when nothing ran although no filter was given (a runner that finds no tests is broken).
let run (args: CLIArguments list) (argv: string[]) (afterTests: unit -> unit) =
    let mutable counts = (0, 0, 0)
    let remember (summary: TestRunSummary) =
        counts <- (summary.passed.Length, summary.failed.Length + summary.errored.Length, summary.ignored.Length)
    let args = [ CLIArguments.No_Spinner ] @ args @ [ CLIArguments.Append_Summary_Handler(SummaryHandler remember) ]
    let exitCode =
        try runTestsInAssemblyWithCLIArgs args argv
        finally afterTests ()
    // Expecto's console writer pads lines with spaces, so the line goes straight to the
    // standard output stream.
    let passed, failed, skipped = counts
    stdout.Flush()
    use raw = Console.OpenStandardOutput()
    raw.Write(Text.Encoding.ASCII.GetBytes $"\ntests: {passed} passed, {failed} failed, {skipped} skipped\n")
    let filtered = argv |> Array.exists (fun a -> a.StartsWith "--filter")
    if failed > 0 || (passed = 0 && not filtered) then max exitCode 1 else exitCode
