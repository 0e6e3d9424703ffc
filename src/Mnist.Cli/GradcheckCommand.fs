/// `mnist gradcheck`: every case of GradCheckSuite (layers, activations, the loss, whole
/// networks), one line each, then a verdict; exit code 1 if any fails.
module Mnist.Cli.GradcheckCommand

open System
open Argu
open Mnist.Core
open Mnist.Core.GradCheck
open Mnist.Cli.Common

type GradcheckArgs =
    | Filter of substring: string
    | Device of device: string
    | Verbose
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Filter _ -> "only the cases whose group or name contains this (case-insensitive)"
            | Device _ -> deviceUsage
            | Verbose -> "print every case's full report (one line per checked tensor)"

let private sci (value: float) = value.ToString("0.0e+00", Globalization.CultureInfo.InvariantCulture)

/// The tensor the verdict hangs on: the largest error (NaN counts as largest).
let private worst (report: GradCheckReport) =
    report.Results |> Seq.maxBy (fun r -> if Double.IsNaN r.Error then Double.PositiveInfinity else r.Error)

let private measure (report: GradCheckReport) =
    if report.Results.Count = 0 then "no tensors checked"
    else
        let r = worst report
        let kind = if r.ByVector then "vector rel err" else "max rel err"
        sprintf "%s %s (tol %s, %s)" kind (sci r.Error) (sci r.Tolerance) r.Name

let private indent (text: string) = "        " + text.Replace("\n", "\n        ")

let run (args: ParseResults<GradcheckArgs>) =
    let filter = args.TryGetResult Filter |> Option.toObj
    let verbose = args.Contains Verbose
    let backend = openDevice (args.TryGetResult Device)
    let selected = GradCheckSuite.Cases |> Seq.filter (fun c -> c.Matches filter) |> Seq.toList
    require (not selected.IsEmpty) (sprintf "no gradient check matches '%s'" filter)
    // Names line up in a column; the few very long ones (whole networks) run past it.
    let width = selected |> List.map (fun c -> c.Name.Length) |> List.filter (fun n -> n <= 60) |> List.fold max 0
    let mutable group = ""
    let show (o: GradCheckOutcome) =
        if o.Case.Group <> group then
            group <- o.Case.Group
            printfn "%s" group
        let verdict = if o.Passed then "PASS" else "FAIL"
        let detail =
            match o.Report with
            | null -> sprintf "threw %s: %s" (o.Error.GetType().Name) o.Error.Message
            | report -> measure report
        printfn "  %s  %s   %s" verdict (o.Case.Name.PadRight width) detail
        match o.Report with
        | null -> ()
        | report when not o.Passed -> printfn "%s" (indent (o.Case.Complaint report))
        | report when verbose -> printfn "%s" (indent report.Report)
        | _ -> ()
    let clock = Diagnostics.Stopwatch.StartNew()
    let outcomes = GradCheckSuite.RunAll(Action<GradCheckOutcome> show, filter, backend)
    let failed = outcomes |> Seq.filter (fun o -> not o.Passed) |> Seq.length
    printfn "gradcheck: %d passed, %d failed on %s (%s s)" (outcomes.Count - failed) failed backend.Name (inv "F1" clock.Elapsed.TotalSeconds)
    if failed > 0 then 1 else 0
