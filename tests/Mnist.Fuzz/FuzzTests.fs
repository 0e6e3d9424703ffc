/// The fuzzing that CI runs, bounded in time: every target's regression corpus replayed, a fixed
/// set of mutated cases per target, and the command line's contract for refused files (one
/// `error:` line, exit 1, no stack trace).
module Mnist.Fuzz.FuzzTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Mnist.Fuzz.Harness

/// Every target, the CLI-side ones and the web ones.
let targets = Targets.local @ Web.all

/// Mutated cases per target in a test run (the fuzz command runs many more).
let casesInTests = 120

let private failWith (t: Tally) =
    let lines = [ for label, failure, input in t.Failures -> $"  {label} ({fingerprint input}, {input.Length} bytes): {describe failure}" ]
    failtestf "%s\n%s" (summary t) (String.Join("\n", lines))

[<Tests>]
let fuzzing =
    testList "fuzz"
        [ for target in targets do
              testCase $"{target.Name}: the regression corpus replays" <| fun () ->
                  let t = tally target.Name
                  for name, input in corpus target do record t name input (runCase defaultLimits target input)
                  printfn "%s" (summary t)
                  if t.Failures.Count > 0 then failWith t

              testCase $"{target.Name}: {casesInTests} mutated cases" <| fun () ->
                  let seed = 20251130
                  let t = tally target.Name
                  for case in 1 .. casesInTests do
                      let input = mutant target seed case
                      record t $"seed {seed} case {case}" input (runCase defaultLimits target input)
                  printfn "%s" (summary t)
                  if t.Failures.Count > 0 then failWith t ]

/// The CLI built next to this program (the solution builds both).
let private cli = lazy (Path.Combine(repositoryRoot.Value, "src", "Mnist.Cli", "bin", "Release", "net10.0", "mnist.dll"))

let private runCli (args: string list) =
    let start = ProcessStartInfo("dotnet", cli.Value :: args, RedirectStandardError = true, RedirectStandardOutput = true)
    start.Environment["MNIST_DATA"] <- ""
    use proc = Process.Start start
    let errors = proc.StandardError.ReadToEndAsync()
    let output = proc.StandardOutput.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, errors.Result, output

[<Tests>]
let commandLine =
    testList "fuzz: the command line's refusals"
        [ testCase "a broken model, image, sweep or IDX file: one error line, exit 1" <| fun () ->
              if not (File.Exists cli.Value) then skiptest $"{cli.Value} is not built"
              let dir = Directory.CreateTempSubdirectory("mnist-fuzz-cli-").FullName
              try
                  let write name (bytes: byte[]) = (let path = Path.Combine(dir, name) in File.WriteAllBytes(path, bytes); path)
                  let model = write "model.safetensors" Seeds.models.Value[1]
                  let image = write "digit.png" Seeds.images.Value.Head
                  let brokenModel = write "broken.safetensors" (Mutations.withInteger (Random 1) 0 Seeds.models.Value[1] |> fun b -> b[.. b.Length / 3])
                  let brokenImage = write "broken.jpg" (Seeds.images.Value |> List.find (fun b -> b[0] = 0xFFuy) |> fun j -> j[.. j.Length / 2])
                  let hugeImage = write "huge.png" (Mnist.TestImages.pngDeclaring 30000 30000 Seeds.images.Value.Head)
                  let brokenSweep = write "broken.json" (Text.Encoding.UTF8.GetBytes """{"name": "x", "grid": {"learningRate": [0.1, 0.2], "epochs": "many"}}""")
                  let brokenEnsemble = write "ensemble.json" (Seeds.manifests.Value[0] |> fun b -> b[.. b.Length / 2])
                  let data = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName
                  for name in Mnist.Core.Data.MnistFiles.All do
                      File.WriteAllBytes(Path.Combine(data, name), Seeds.idxFiles.Value[0][.. 40])
                  for args in
                      [ [ "predict"; "--model"; brokenModel; image ]
                        [ "predict"; "--model"; model; brokenImage ]
                        [ "predict"; "--model"; model; hugeImage ]
                        [ "eval"; "--model"; brokenEnsemble ]
                        [ "predict"; "--model"; write "foreign.bin" [| 1uy; 2uy; 3uy |]; "0" ]
                        [ "sweep"; brokenSweep; "--results"; Path.Combine(dir, "results") ]
                        [ "data"; "verify"; "--data-dir"; data ] ] do
                      let code, errors, output = runCli args
                      let lines = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                      let what = String.Join(" ", args |> List.map Path.GetFileName)
                      Expect.equal code 1 $"{what}: exit code (stderr: {errors}; stdout: {output})"
                      Expect.equal lines.Length 1 $"{what}: one line on stderr: {errors}"
                      Expect.stringStarts lines[0] "error: " $"{what}: an error line"
                      Expect.isFalse (errors.Contains "   at ") $"{what}: no stack trace"
              finally Directory.Delete(dir, true) ]
