/// The built `mnist` command against registries, as separate processes: a registry that cannot
/// be used is one clear line and exit 1 with nothing written, and two workers sharing a sweep
/// through a real PostgreSQL server train every run exactly once.
module Mnist.Tests.RegistryCliTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open Mnist.Experiments
open Mnist.TestProcesses
open Mnist.Tests.TestData
open Mnist.Tests.StoreFixtures

let private experiments = Path.Combine(repositoryRoot, "experiments")
let private minutes (n: float) = TimeSpan.FromMinutes n

/// Each command that takes --registry refuses this one with one `error:` line and exit 1, and
/// leaves the results folder it was given uncreated.
let private expectRefused (registry: string) (why: string) =
    use dir = new TempDir()
    let results = Path.Combine(dir.Path, "results")
    for command in
        [ [ "runs" ]
          [ "sweep"; "smoke"; "--experiments"; experiments; "--no-report" ]
          [ "report" ]
          [ "merge"; Path.Combine(dir.Path, "elsewhere") ]
          [ "serve"; "--port"; "0" ] ] do
        let code, output, errors = mnist (command @ [ "--results"; results; "--registry"; registry ]) [ "MNIST_REGISTRY", null ] (minutes 2.0)
        let name = List.head command
        Expect.equal code 1 $"{name}: exit 1 ({output}{errors})"
        let lines = errors.Trim().Split('\n')
        Expect.equal lines.Length 1 $"{name}: one line: {errors}"
        Expect.stringStarts lines[0] "error: " name
        Expect.stringContains lines[0] why name
        Expect.equal (output.Trim()) "" $"{name}: nothing else said"
        Expect.isFalse (Directory.Exists results) $"{name}: nothing written"

[<Tests>]
let cliTests =
    testSequenced <| testList "Experiments.Registry.Cli" [
        test "an unknown scheme or an unreachable server: one clear line, exit 1, nothing written" {
            expectRefused "mysql://me:secret@somewhere/runs" "unknown scheme 'mysql'"
            expectRefused $"postgres://me:secret@127.0.0.1:{freeLoopbackPort ()}/runs" "cannot reach the registry postgres://me@127.0.0.1:"
        }

        test "a wrong password or a registry of another schema version: one clear line, exit 1, nothing written" {
            let server = Mnist.TestPostgres.require ()
            let url = server.NewDatabase()
            expectRefused (url.Replace($":{server.Password}@", ":wrong@")) "refused the login"
            let location = RegistryLocation.Parse url
            Registry.Open(location, "unused") |> ignore
            execute location "UPDATE registry_meta SET value = '2' WHERE key = 'schema_version'"
            expectRefused url "has schema version 2"
        }

        test "two workers on one sweep through PostgreSQL train every run exactly once, and `mnist runs` lists them" {
            let server = Mnist.TestPostgres.require ()
            if mnistDir = "" then skiptest "MNIST is not available (the Test target fetches it first)"
            let registry = server.NewDatabase()
            use dir = new TempDir()
            let args = [ "sweep"; "smoke"; "--experiments"; experiments; "--results"; dir.Path; "--data-dir"; mnistDir; "--no-report" ]
            // The registry from the environment for one worker, the option for the other.
            use first = startMnist args [ "MNIST_REGISTRY", registry ]
            use second = startMnist (args @ [ "--registry"; registry ]) [ "MNIST_REGISTRY", null ]
            for worker in [ first; second ] do
                Expect.equal (worker.Wait(minutes 8.0)) 0 $"a worker failed:\n{worker.Output}\n{worker.Errors}"
            let planned = Sweep.load experiments "smoke" |> Sweep.expand |> List.map (fun r -> r.Id)
            let trainedBy (worker: Running) =
                [ for m in Regex.Matches(worker.Output, @"\[\d+/\d+ ([0-9a-f]{12})\] test accuracy") -> m.Groups[1].Value ]
            let a, b = trainedBy first, trainedBy second
            printfn "worker 1 trained %A, worker 2 trained %A" a b
            Expect.sequenceEqual (List.sort (a @ b)) (List.sort planned) "every run trained, and only once in all"
            Expect.isEmpty (Set.intersect (set a) (set b)) "never by both"
            let store = Registry.OpenExisting(RegistryLocation.Parse registry, dir.Path)
            let rows = store.Runs()
            Expect.sequenceEqual (rows |> List.map (fun r -> r.Id) |> List.sort) (List.sort planned) "one row per run"
            Expect.isTrue (rows |> List.forall (fun r -> r.IsComplete && Layout.isFinished (Path.Combine(dir.Path, r.Folder)))) "complete, with files"
            for r in rows do
                let log = File.ReadAllText(Path.Combine(dir.Path, r.Folder, Layout.LogFile))
                Expect.equal (Regex.Matches(log, "test accuracy").Count) 1 $"{r.Id} finished once"
            let code, output, errors = mnist [ "runs"; "--results"; dir.Path; "--registry"; registry ] [] (minutes 2.0)
            Expect.equal code 0 errors
            for id in planned do Expect.stringContains output id "listed"
            Expect.stringContains output "4 complete run(s) in postgres://mnist@127.0.0.1:" "from the server"
            Expect.isFalse (output.Contains server.Password) "the password is never shown"
            // The other readers work on the server's registry too.
            let on = [ "--results"; dir.Path; "--registry"; registry ]
            let code, output, errors = mnist ([ "report"; "smoke" ] @ on) [] (minutes 3.0)
            Expect.equal code 0 $"report: {output}{errors}"
            Expect.isTrue (File.Exists(Layout.sweepReport dir.Path "smoke")) "the sweep report"
            Expect.stringContains (File.ReadAllText(Layout.sweepSummary dir.Path "smoke")) "\"runs\": 4" "and its summary"
            let code, output, errors = mnist ([ "compare"; planned[0].Substring(0, 6); planned[1] ] @ on) [] (minutes 2.0)
            Expect.equal code 0 $"compare: {errors}"
            Expect.stringContains output planned[1] "compares the two runs"
            let code, output, errors = mnist ([ "run"; planned[0]; "--data-dir"; mnistDir ] @ on) [] (minutes 3.0)
            Expect.equal code 0 $"run: {output}{errors}"
            Expect.stringContains output "metrics match exactly" "a recorded run reproduces"
        } ]
