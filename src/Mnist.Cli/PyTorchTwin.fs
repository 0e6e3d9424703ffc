/// Runs scripts/pytorch_twin.py (the PyTorch twin of our networks) and reads its JSON lines.
module Mnist.Cli.PyTorchTwin

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Mnist.Core

/// The twin script: found above the program's folder (a checkout) or the current folder.
let scriptPath () =
    let rec search (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, "scripts", "pytorch_twin.py")
            if File.Exists candidate then Some candidate else search dir.Parent
    match search (DirectoryInfo AppContext.BaseDirectory) |> Option.orElse (search (DirectoryInfo(Directory.GetCurrentDirectory()))) with
    | Some path -> path
    | None -> raise (MnistException "scripts/pytorch_twin.py not found: run from a checkout of the repository")

/// Runs the twin with the arguments; returns each JSON line it printed. Its stderr passes through.
let run (args: string list) =
    let start = ProcessStartInfo("python3", scriptPath () :: args, RedirectStandardOutput = true)
    use proc = Process.Start start
    let lines = ResizeArray<JsonElement>()
    let mutable line = proc.StandardOutput.ReadLine()
    while not (isNull line) do
        if line.StartsWith "{" then lines.Add(JsonDocument.Parse(line).RootElement.Clone())
        line <- proc.StandardOutput.ReadLine()
    proc.WaitForExit()
    if proc.ExitCode <> 0 then raise (MnistException $"the PyTorch twin failed (exit code {proc.ExitCode})")
    List.ofSeq lines
