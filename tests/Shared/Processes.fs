/// Running programs from the tests: the built `mnist` command and system tools, with their
/// output captured and a time limit. (Linked into both test programs.)
module Mnist.TestProcesses

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Text

/// The repository root, found above the test assembly.
let repositoryRoot =
    let rec up (dir: DirectoryInfo) =
        if isNull dir then failwith "Mnist.Experiments.sln not found above the test assembly"
        elif File.Exists(Path.Combine(dir.FullName, "Mnist.Experiments.sln")) then dir.FullName
        else up dir.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// The CLI the solution build made, in the configuration these tests were built in.
let cliDll =
    let configuration = DirectoryInfo(Path.TrimEndingDirectorySeparator AppContext.BaseDirectory).Parent.Name // bin/<configuration>/net10.0
    let path = Path.Combine(repositoryRoot, "src", "Mnist.Cli", "bin", configuration, "net10.0", "mnist.dll")
    lazy (if File.Exists path then path else failwith $"the mnist command is not built: {path} (build the solution first)")

/// A started program whose output lines are collected as they come.
type Running(start: ProcessStartInfo) =
    let output = StringBuilder()
    let errors = StringBuilder()
    let lines = new Collections.Concurrent.BlockingCollection<string>()
    let proc = new Process()
    do proc.StartInfo <- start
    do
        start.RedirectStandardOutput <- true
        start.RedirectStandardError <- true
        start.RedirectStandardInput <- true
        proc.OutputDataReceived.Add(fun e ->
            if isNull e.Data then lines.CompleteAdding()
            else
                lock output (fun () -> output.AppendLine e.Data |> ignore)
                lines.Add e.Data)
        proc.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then lock errors (fun () -> errors.AppendLine e.Data |> ignore))
        proc.Start() |> ignore
        proc.BeginOutputReadLine()
        proc.BeginErrorReadLine()

    member _.Process = proc
    member _.Output = lock output (fun () -> output.ToString())
    member _.Errors = lock errors (fun () -> errors.ToString())

    /// The first output line the predicate accepts, waiting up to the timeout.
    member this.WaitForLine(accept: string -> bool, timeout: TimeSpan) =
        let deadline = DateTime.UtcNow + timeout
        let rec next () =
            let left = deadline - DateTime.UtcNow
            let mutable line = null
            match lines.TryTake(&line, max left TimeSpan.Zero) with
            | true when accept line -> line
            | true -> next ()
            | false -> failwith $"no such line within {timeout}; output:\n{this.Output}\nerrors:\n{this.Errors}"
        next ()

    /// Waits for the exit (killing the program past the timeout) and returns the exit code.
    member _.Wait(timeout: TimeSpan) =
        if not (proc.WaitForExit timeout) then
            (try proc.Kill true with _ -> ())
            failwith $"{start.FileName} {String.Join(' ', start.ArgumentList)} ran past {timeout}"
        proc.WaitForExit()
        proc.ExitCode

    /// Kills the program at once (SIGKILL), as a crash or a power cut would.
    member _.Kill() =
        (try proc.Kill true with _ -> ())
        proc.WaitForExit()

    interface IDisposable with
        member this.Dispose() =
            if not proc.HasExited then this.Kill()
            proc.Dispose()

let private startInfo (program: string) (args: string list) (environment: (string * string) list) =
    let info = ProcessStartInfo(program, args, UseShellExecute = false)
    for name, value in environment do
        if isNull value then info.Environment.Remove name |> ignore else info.Environment[name] <- value
    info

/// Starts the built `mnist` command with extra environment variables (null removes one).
let startMnist (args: string list) (environment: (string * string) list) =
    new Running(startInfo "dotnet" (cliDll.Value :: args) (("DOTNET_NOLOGO", "1") :: environment))

/// Runs `mnist` to the end: exit code, standard output, standard error.
let mnist (args: string list) (environment: (string * string) list) (timeout: TimeSpan) =
    use running = startMnist args environment
    let code = running.Wait timeout
    code, running.Output, running.Errors

/// Runs a program to the end: exit code and everything it printed.
let run (program: string) (args: string list) (timeout: TimeSpan) =
    use running = new Running(startInfo program args [])
    let code = running.Wait timeout
    code, running.Output + running.Errors

/// A loopback port nothing listens on now (for a server to take, or to find nobody there).
let freeLoopbackPort () =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    listener.Start()
    let port = (listener.LocalEndpoint :?> IPEndPoint).Port
    listener.Stop()
    port
