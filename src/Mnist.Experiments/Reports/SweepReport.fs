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

let private runsTable (results: string) (pageDir: string) (metric: Ranking.Metric) (ranked: RunRow list) =
    let bestId = ranked |> List.tryHead |> Option.map (fun r -> r.Id)
    table true
        [ "rank", false; "run", true; "preset", true; "width", false; "parameters", false; "activation", true
          "optimizer", true; "learning rate", false; "schedule", true; "batch", false; "epochs", false; "images", false
          "final val acc", false; "final test acc", false; "best test acc", false; "best epoch", false
          "test loss", false; "train time (s)", false ]
        [ for rank, r in List.indexed ranked ->
              let s = r.Spec
              let images = (s.Limit |> Option.defaultValue 60000) - s.Validation
              (if Some r.Id = bestId then "best" else ""),
              [ number (string (rank + 1)) (float (rank + 1))
                raw (runLink results pageDir r) r.Id
                text s.Preset
                number (inv "G4" s.Width) s.Width
                number (r.Parameters.ToString "N0") (float r.Parameters)
                text s.Activation
                { text s.Optimizer.Name with Html = $"<span title=\"{esc (string s.Optimizer)}\">{esc s.Optimizer.Name}</span>" }
                number (inv "G4" (float s.LearningRate)) (float s.LearningRate)
                text s.Schedule.Name
                number (string s.BatchSize) (float s.BatchSize)
                number (string r.EpochsDone) (float r.EpochsDone)
                number (images.ToString "N0") (float images)
                optNumber pct r.FinalValidationAccuracy
                optNumber pct r.FinalTestAccuracy
                optNumber pct r.BestTestAccuracy
                optNumber (fun v -> string (int v)) (r.BestEpoch |> Option.map float)
                optNumber (inv "F4") r.FinalTestLoss
                optNumber (inv "F1") r.TrainSeconds ] ]

let private point (metric: Ranking.Metric) (bestId: string) (x: float) (r: RunRow) =
    { X = x
      Y = 100.0 * metric.Of r
      Hover = $"{r.Id}: {ExperimentSpec.label r.Spec}"
      IsBest = r.Id = bestId }

/// The effect plots that make sense for the settings the sweep varies.
let private effects (metric: Ranking.Metric) (ranked: RunRow list) =
    let bestId = match ranked with best :: _ -> best.Id | [] -> ""
    let yTitle = metric.Name + " (%)"
    let varies (f: RunRow -> 'K) = ranked |> List.map f |> List.distinct |> List.length > 1
    let model (r: RunRow) = if r.Spec.Width = 1.0 then r.Spec.Preset else $"""{r.Spec.Preset}×{inv "G4" r.Spec.Width}"""
    [ if varies (fun r -> r.Spec.LearningRate) then
          let series =
              ranked
              |> List.groupBy (fun r -> r.Spec.BatchSize)
              |> List.sortBy fst
              |> List.map (fun (batch, rs) -> $"batch {batch}", rs |> List.map (fun r -> point metric bestId (float r.Spec.LearningRate) r))
          yield numericEffect "Accuracy against learning rate, per batch size" "peak learning rate (log)" yTitle true series
      if varies (fun r -> r.Spec.BatchSize) && not (varies (fun r -> r.Spec.LearningRate)) then
          let series = [ "runs", ranked |> List.map (fun r -> point metric bestId (float r.Spec.BatchSize) r) ]
          yield numericEffect "Accuracy against batch size" "batch size (log)" yTitle true series
      if varies (fun r -> r.Spec.Activation) then
          let series =
              ranked
              |> List.groupBy model
              |> List.map (fun (m, rs) -> m, rs |> List.map (fun r -> r.Spec.Activation, point metric bestId 0.0 r))
          yield categoricalEffect "Accuracy against activation, per model" "activation" yTitle series
      if varies (fun r -> r.Parameters) then
          let series =
              ranked
              |> List.groupBy (fun r -> r.Spec.Activation)
              |> List.map (fun (a, rs) -> a, rs |> List.map (fun r -> point metric bestId (float r.Parameters) r))
          yield numericEffect "Accuracy against model size, per activation" "parameters (log)" yTitle true series
      if varies (fun r -> r.Spec.Optimizer.Name) then
          let series =
              ranked
              |> List.groupBy model
              |> List.map (fun (m, rs) -> m, rs |> List.map (fun r -> r.Spec.Optimizer.Name, point metric bestId 0.0 r))
          yield categoricalEffect "Accuracy against optimizer, per model" "optimizer" yTitle series ]

/// The sweep page's HTML. <paramref name="epochsOf"/> gives a run's per-epoch metrics.
let render (results: string) (sweep: string) (description: string) (rows: RunRow list) (planned: int) (epochsOf: string -> EpochMetrics list) =
    let pageDir = Layout.sweepDir results sweep
    let ranked = Ranking.rank rows
    let metric = Ranking.metricFor rows
    let body = StringBuilder()
    body.Append($"<h1>Sweep {esc sweep}</h1>") |> ignore
    if description <> "" then body.Append($"<p class=\"sub\">{esc description}</p>") |> ignore
    let pending = planned - ranked.Length
    body.Append($"<p class=\"sub\">{ranked.Length} of {planned} runs complete")
        .Append(if pending > 0 then $" ({pending} still to run: <code>mnist sweep {esc sweep}</code> finishes them)" else "")
        .Append($". Runs are ranked by final {esc metric.Name}; click a column header to sort by it.</p>") |> ignore
    match ranked with
    | [] -> body.Append("<p>No finished runs yet.</p>") |> ignore
    | best :: _ ->
        body.Append("<div class=\"callout\">Best run: ").Append(runLink results pageDir best)
            .Append($" — {esc (ExperimentSpec.label best.Spec)}: {esc metric.Name} {pct (metric.Of best)}, ")
            .Append($"test accuracy {optPct best.FinalTestAccuracy}</div>")
            .Append("<h2>Runs</h2>").Append(runsTable results pageDir metric ranked) |> ignore
        let curves =
            [ for r in ranked -> $"{r.Id} {ExperimentSpec.label r.Spec}", r.Id = best.Id, epochsOf r.Id ]
        let validationCurves = curves |> List.forall (fun (_, _, h) -> h |> List.forall (fun m -> m.ValidationAccuracy.HasValue))
        body.Append("<h2>Learning curves</h2><div class=\"charts\">") |> ignore
        if validationCurves then
            body.Append(chart (overlaid "Validation accuracy per epoch" "validation accuracy (%)" curves (fun m -> Some(100.0 * m.ValidationAccuracy.Value))))
                .Append(chart (overlaid "Validation loss per epoch" "validation loss" curves (fun m -> Some m.ValidationLoss.Value))) |> ignore
        else
            body.Append(chart (overlaid "Test accuracy per epoch" "test accuracy (%)" curves (fun m -> Some(100.0 * m.TestAccuracy))))
                .Append(chart (overlaid "Test loss per epoch" "test loss" curves (fun m -> Some m.TestLoss))) |> ignore
        body.Append(chart (overlaid "Training loss per epoch" "training loss" curves (fun m -> Some m.TrainLoss))).Append("</div>")
            .Append("<p class=\"note\">One line per run; the best run is the thick one. Hover a point to see which run it is.</p>") |> ignore
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
    let rows = registry.Runs sweep |> List.filter (fun r -> r.IsComplete)
    let description = definition |> Option.map (fun d -> d.Description) |> Option.defaultValue ""
    let html = render results sweep description rows (max members.Length rows.Length) (fun id -> registry.Epochs id)
    let path = Layout.sweepReport results sweep
    Files.writeAllTextAtomic path html
    path
