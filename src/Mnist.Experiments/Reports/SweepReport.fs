/// results/<sweep>/index.html: every run of a sweep in a sortable table, their learning curves
/// overlaid, and the effect of each setting on accuracy, with the best run highlighted.
module Mnist.Experiments.Reports.SweepReport

open System
open System.IO
open System.Text
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Experiments.Reports.Html
open Mnist.Experiments.Reports.Charts

let private runLink (results: string) (pageDir: string) (row: RunRow) =
    let report = Path.Combine(results, row.Folder, Layout.ReportFile)
    $"<a href=\"{esc (Files.relative pageDir report)}\"><code>{esc row.Id}</code></a>"

/// A table column: header, whether it holds text, the cell, and for a setting the value that
/// decides whether it varies (a setting every run shares is listed above the table instead).
type private Column =
    { Header: string; IsText: bool; Cell: int -> RunRow -> Cell; Setting: (RunRow -> string) option }

let private runsTable (results: string) (pageDir: string) (ranked: RunRow list) =
    let bestId = ranked |> List.tryHead |> Option.map (fun r -> r.Id)
    let images (r: RunRow) = (r.Spec.Limit |> Option.defaultValue 60000) - r.Spec.Validation
    let setting header isText (value: RunRow -> string) (cell: RunRow -> Cell) =
        { Header = header; IsText = isText; Cell = (fun _ r -> cell r); Setting = Some value }
    let result header (cell: RunRow -> Cell) = { Header = header; IsText = false; Cell = (fun _ r -> cell r); Setting = None }
    let columns =
        [ { Header = "rank"; IsText = false; Cell = (fun rank _ -> number (string (rank + 1)) (float (rank + 1))); Setting = None }
          { Header = "run"; IsText = true; Cell = (fun _ r -> raw (runLink results pageDir r) r.Id); Setting = None }
          setting "dataset" true (fun r -> r.Spec.Dataset) (fun r -> text r.Spec.Dataset)
          setting "preset" true (fun r -> r.Spec.Preset) (fun r -> text r.Spec.Preset)
          setting "width" false (fun r -> inv "G4" r.Spec.Width) (fun r -> number (inv "G4" r.Spec.Width) r.Spec.Width)
          setting "parameters" false (fun r -> r.Parameters.ToString "N0") (fun r -> number (r.Parameters.ToString "N0") (float r.Parameters))
          setting "activation" true (fun r -> r.Spec.Activation) (fun r -> text r.Spec.Activation)
          setting "optimizer" true (fun r -> string r.Spec.Optimizer) (fun r ->
              { text r.Spec.Optimizer.Name with Html = $"<span title=\"{esc (string r.Spec.Optimizer)}\">{esc r.Spec.Optimizer.Name}</span>" })
          setting "learning rate" false (fun r -> inv "G4" (float r.Spec.LearningRate)) (fun r ->
              number (inv "G4" (float r.Spec.LearningRate)) (float r.Spec.LearningRate))
          setting "schedule" true (fun r -> string r.Spec.Schedule) (fun r -> text r.Spec.Schedule.Name)
          setting "batch" false (fun r -> string r.Spec.BatchSize) (fun r -> number (string r.Spec.BatchSize) (float r.Spec.BatchSize))
          setting "epochs" false (fun r -> string r.EpochsDone) (fun r -> number (string r.EpochsDone) (float r.EpochsDone))
          setting "seed" false (fun r -> string r.Spec.Seed) (fun r -> number (string r.Spec.Seed) (float r.Spec.Seed))
          setting "device" true (fun r -> ExperimentSpec.deviceKind r.Spec) (fun r -> text (ExperimentSpec.deviceKind r.Spec))
          setting "training images" false (fun r -> (images r).ToString "N0") (fun r -> number ((images r).ToString "N0") (float (images r)))
          result "final val acc" (fun r -> optNumber pct r.FinalValidationAccuracy)
          result "final test acc" (fun r -> optNumber pct r.FinalTestAccuracy)
          result "best test acc" (fun r -> optNumber pct r.BestTestAccuracy)
          result "at epoch" (fun r -> optNumber (fun v -> string (int v)) (r.BestEpoch |> Option.map float))
          result "test loss" (fun r -> optNumber (inv "F4") r.FinalTestLoss)
          result "train time (s)" (fun r -> optNumber (inv "F1") r.TrainSeconds) ]
    let varies (c: Column) =
        match c.Setting with
        | Some value -> ranked.Length < 2 || (ranked |> List.map value |> List.distinct |> List.length) > 1
        | None -> true
    let shown = columns |> List.filter varies
    let shared =
        [ for c in columns do
              match c.Setting with
              | Some value when not (varies c) -> yield $"{c.Header} <b>{esc (value ranked.Head)}</b>"
              | _ -> () ]
    let sharedLine =
        if shared.IsEmpty then "" else "<p class=\"note\">Same in every run: " + String.Join(" · ", shared) + ".</p>"
    let rows =
        [ for rank, r in List.indexed ranked ->
              (if Some r.Id = bestId then "best" else ""), [ for c in shown -> c.Cell rank r ] ]
    sharedLine + "<div class=\"scroll\">" + table true [ for c in shown -> c.Header, c.IsText ] rows + "</div>"

let private point (metric: Ranking.Metric) (bestId: string) (x: float) (r: RunRow) =
    { X = x
      Y = 100.0 * (1.0 - metric.Of r)
      Hover = $"{r.Id}: {ExperimentSpec.label r.Spec}, {metric.Name} {pct (metric.Of r)}"
      IsBest = r.Id = bestId }

/// The effect plots that make sense for the settings the sweep varies.
let private effects (metric: Ranking.Metric) (ranked: RunRow list) =
    let bestId = match ranked with best :: _ -> best.Id | [] -> ""
    let yTitle = (metric.Name.Replace("accuracy", "error")) + " (%, log)"
    let varies (f: RunRow -> 'K) = ranked |> List.map f |> List.distinct |> List.length > 1
    let model (r: RunRow) = if r.Spec.Width = 1.0 then r.Spec.Preset else $"""{r.Spec.Preset}×{inv "G4" r.Spec.Width}"""
    [ if varies (fun r -> r.Spec.LearningRate) then
          let series =
              ranked
              |> List.groupBy (fun r -> r.Spec.BatchSize)
              |> List.sortBy fst
              |> List.map (fun (batch, rs) -> $"batch {batch}", rs |> List.map (fun r -> point metric bestId (float r.Spec.LearningRate) r))
          yield numericEffect "Error against learning rate, per batch size" "peak learning rate (log)" yTitle true series
      if varies (fun r -> r.Spec.BatchSize) && not (varies (fun r -> r.Spec.LearningRate)) then
          let series = [ "runs", ranked |> List.map (fun r -> point metric bestId (float r.Spec.BatchSize) r) ]
          yield numericEffect "Error against batch size" "batch size (log)" yTitle true series
      if varies (fun r -> r.Spec.Activation) then
          let series =
              ranked
              |> List.groupBy model
              |> List.map (fun (m, rs) -> m, rs |> List.map (fun r -> r.Spec.Activation, point metric bestId 0.0 r))
          yield categoricalEffect "Error against activation, per model" "activation" yTitle series
      if varies (fun r -> r.Parameters) then
          let series =
              ranked
              |> List.groupBy (fun r -> r.Spec.Activation)
              |> List.map (fun (a, rs) -> a, rs |> List.map (fun r -> point metric bestId (float r.Parameters) r))
          yield numericEffect "Error against model size, per activation" "parameters (log)" yTitle true series
      if varies (fun r -> r.Spec.Optimizer.Name) then
          let series =
              ranked
              |> List.groupBy model
              |> List.map (fun (m, rs) -> m, rs |> List.map (fun r -> r.Spec.Optimizer.Name, point metric bestId 0.0 r))
          yield categoricalEffect "Error against optimizer, per model" "optimizer" yTitle series ]

/// The sweep page's HTML. <paramref name="unfinished"/> are the started runs that are not
/// complete, with their state; <paramref name="epochsOf"/> gives a run's per-epoch metrics.
let render (results: string) (sweep: string) (description: string) (rows: RunRow list) (unfinished: (RunRow * RunState) list)
           (planned: int) (epochsOf: string -> EpochMetrics list) =
    let pageDir = Layout.sweepDir results sweep
    let ranked = Ranking.rank rows
    let metric = Ranking.metricFor rows
    let body = StringBuilder()
    body.Append($"<h1>Sweep {esc sweep}</h1>") |> ignore
    if description <> "" then body.Append($"<p class=\"sub\">{esc description}</p>") |> ignore
    let pending = planned - ranked.Length
    let states = RunState.Counts(List.map snd unfinished)
    body.Append($"<p class=\"sub\">{ranked.Length} of {planned} runs complete")
        .Append(if pending > 0 then $" ({pending} still to run" + (if states.IsEmpty then "" else ", of which " + String.Join(" and ", states)) + $": <code>mnist sweep {esc sweep}</code> finishes them)" else "")
        .Append($". Runs are ranked by final {esc metric.Name}; click a column header to sort by it.</p>") |> ignore
    match ranked with
    | [] -> body.Append("<p>No finished runs yet.</p>") |> ignore
    | best :: _ ->
        body.Append("<div class=\"callout\">Best run: ").Append(runLink results pageDir best)
            .Append($" — {esc (ExperimentSpec.label best.Spec)}: {esc metric.Name} {pct (metric.Of best)}, ")
            .Append($"test accuracy {optPct best.FinalTestAccuracy}</div>")
            .Append("<h2>Runs</h2>").Append(runsTable results pageDir ranked) |> ignore
        let curves =
            [ for r in ranked -> $"{r.Id} {ExperimentSpec.label r.Spec}", r.Id = best.Id, epochsOf r.Id ]
        let validationCurves = curves |> List.forall (fun (_, _, h) -> h |> List.forall (fun m -> m.ValidationAccuracy.HasValue))
        body.Append("<h2>Learning curves</h2><div class=\"charts\">") |> ignore
        let finite (v: float) = if Double.IsFinite v then Some v else None
        if validationCurves then
            body.Append(chart (overlaid "Validation error per epoch" "validation error (%, log)" curves (fun m -> Some(100.0 * (1.0 - m.ValidationAccuracy.Value)))))
                .Append(chart (overlaid "Validation loss per epoch" "validation loss (log)" curves (fun m -> finite m.ValidationLoss.Value))) |> ignore
        else
            body.Append(chart (overlaid "Test error per epoch" "test error (%, log)" curves (fun m -> Some(100.0 * (1.0 - m.TestAccuracy)))))
                .Append(chart (overlaid "Test loss per epoch" "test loss (log)" curves (fun m -> finite m.TestLoss))) |> ignore
        body.Append(chart (overlaid "Training loss per epoch" "training loss (log)" curves (fun m -> finite m.TrainLoss))).Append("</div>")
            .Append("<p class=\"note\">One line per run, error (100% − accuracy) and loss on log scales so that 1% and 2% stay apart ")
            .Append("while a diverged run (about 90% error) still fits; lower is better. The best run is the thick line; ")
            .Append("hover a point to see which run it is.</p>") |> ignore
        match effects metric ranked with
        | [] -> ()
        | plots ->
            body.Append("<h2>Effects of the settings</h2><div class=\"charts\">") |> ignore
            for p in plots do body.Append(chart p) |> ignore
            body.Append("</div><p class=\"note\">Each point is one run. In numeric plots the faint line joins the best run at each value; ")
                .Append("the star is the best run overall. Other settings vary too, so read a plot as \"what is reachable at this value\".</p>") |> ignore
    page $"Sweep {sweep}" (PlotlyAsset.relativeFrom results pageDir) (body.ToString())

/// Writes results/<sweep>/index.html from the registry and returns its path.
let write (results: string) (registry: Registry) (sweep: string) =
    PlotlyAsset.ensure results |> ignore
    let definition = registry.SweepDefinition sweep
    let members = registry.Members sweep
    let all = registry.Runs sweep
    let rows = all |> List.filter (fun r -> r.IsComplete)
    let unfinished = [ for r in all do if not r.IsComplete then yield r, registry.StateOf r ]
    let description = definition |> Option.map (fun d -> d.Description) |> Option.defaultValue ""
    let html = render results sweep description rows unfinished (max members.Length rows.Length) (fun id -> registry.Epochs id)
    let path = Layout.sweepReport results sweep
    Files.writeAllTextAtomic path html
    path
