/// What the reference twins (PyTorch, LibTorch) share: finding their files in the checkout and
/// reading the JSON lines they print.
module Mnist.Cli.TwinProcess

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Mnist.Core

/// A file of the checkout (e.g. "scripts/pytorch_twin.py"): found above the program's folder or the current folder.
let checkoutFile (relative: string) =
    let rec search (dir: DirectoryInfo) =
        if isNull dir then None
        else
            let candidate = Path.Combine(dir.FullName, relative)
            if File.Exists candidate || Directory.Exists candidate then Some candidate else search dir.Parent
    match search (DirectoryInfo AppContext.BaseDirectory) |> Option.orElse (search (DirectoryInfo(Directory.GetCurrentDirectory()))) with
    | Some path -> path
    | None -> raise (MnistException $"{relative} not found: run from a checkout of the repository")

/// Starts a program and returns each JSON line it prints on stdout (other lines are ignored; its
/// stderr passes through); fails naming `what` when it exits non-zero.
let jsonLines (what: string) (start: ProcessStartInfo) =
    start.RedirectStandardOutput <- true
    use proc = Process.Start start
    let lines = ResizeArray<JsonElement>()
    let mutable line = proc.StandardOutput.ReadLine()
    while not (isNull line) do
        if line.StartsWith "{" then
            try lines.Add(JsonDocument.Parse(line).RootElement.Clone())
            with :? JsonException -> raise (MnistException $"{what} printed a line that is not JSON: {line}")
        line <- proc.StandardOutput.ReadLine()
    proc.WaitForExit()
    if proc.ExitCode <> 0 then raise (MnistException $"{what} failed (exit code {proc.ExitCode})")
    List.ofSeq lines
