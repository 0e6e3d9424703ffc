/// The long fuzzing run, outside CI:
///   dotnet tests/Mnist.Fuzz/bin/Release/net10.0/Mnist.Fuzz.dll fuzz [--cases 10000] [--seed n]
///       [--target name]... [--save] [--keep-codes]
/// runs that many mutated cases per target and prints, per target, what was accepted, what was
/// refused (by code) and every failure. --save writes failing inputs into the regression corpus
/// (tests/Mnist.Fuzz/corpus/<target>/), where every test run replays them once the bug is fixed;
/// --keep-codes also keeps the first input of each refusal code a target has no example of yet.
module Mnist.Fuzz.LongRun

open System
open System.IO
open Mnist.Fuzz.Harness

type private Settings = { Cases: int; Seed: int; Targets: string list; Save: bool; KeepCodes: bool }

let rec private parse (settings: Settings) (args: string list) =
    match args with
    | [] -> settings
    | "--cases" :: n :: rest -> parse { settings with Cases = int n } rest
    | "--seed" :: n :: rest -> parse { settings with Seed = int n } rest
    | "--target" :: name :: rest -> parse { settings with Targets = settings.Targets @ [ name ] } rest
    | "--save" :: rest -> parse { settings with Save = true } rest
    | "--keep-codes" :: rest -> parse { settings with KeepCodes = true } rest
    | other :: _ -> failwithf "unknown option %s (options: --cases n, --seed n, --target name, --save, --keep-codes)" other

let private keep (target: Target) (prefix: string) (input: byte[]) =
    let dir = corpusDir target
    Directory.CreateDirectory dir |> ignore
    let path = Path.Combine(dir, $"{prefix}-{fingerprint input}.bin")
    File.WriteAllBytes(path, input)
    path

/// Runs the long fuzz; the exit code is 1 when anything failed.
let run (args: string list) =
    let settings = parse { Cases = 10000; Seed = Environment.TickCount; Targets = []; Save = false; KeepCodes = false } args
    let targets =
        match settings.Targets with
        | [] -> FuzzTests.targets
        | names ->
            for name in names do
                if not (FuzzTests.targets |> List.exists (fun t -> t.Name = name)) then
                    failwithf "no target %s (targets: %s)" name (String.Join(", ", FuzzTests.targets |> List.map (fun t -> t.Name)))
            FuzzTests.targets |> List.filter (fun t -> List.contains t.Name names)
    printfn "fuzzing %d targets, %d cases each, seed %d" targets.Length settings.Cases settings.Seed
    let mutable failures = 0
    let mutable peak = Environment.WorkingSet
    for target in targets do
        let t = tally target.Name
        let known = corpus target |> List.map fst |> set
        let kept = Collections.Generic.HashSet<string>()
        for case in 1 .. settings.Cases do
            let input = mutant target settings.Seed case
            let outcome = runCase defaultLimits target input
            record t $"seed {settings.Seed} case {case}" input outcome
            match outcome with
            | Failed failure ->
                let where = if settings.Save then " -> " + keep target "crash" input else ""
                printfn "  %s case %d (%d bytes): %s%s" target.Name case input.Length (describe failure) where
            | Passed(Refused code) when settings.KeepCodes && input.Length <= 64 * 1024 ->
                let prefix = "code-" + String(code |> Seq.map (fun c -> if Char.IsLetterOrDigit c then c else '_') |> Array.ofSeq)
                if not (known |> Set.exists (fun f -> f.StartsWith(prefix + "-"))) && kept.Add prefix then keep target prefix input |> ignore
            | _ -> ()
            if case % 1000 = 0 then
                peak <- max peak Environment.WorkingSet
                printfn "  %s: %d cases, %d failures so far" target.Name case t.Failures.Count
        printfn "%s" (summary t)
        failures <- failures + t.Failures.Count
    printfn "total: %d failures; peak working set %d MB" failures (max peak Environment.WorkingSet / (1L <<< 20))
    if failures = 0 then 0 else 1
