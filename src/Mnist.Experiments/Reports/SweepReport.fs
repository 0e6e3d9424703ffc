/// results/<sweep>/index.html: every run of a sweep in a sortable table, their learning curves
/// overlaid, and the effect of each setting on accuracy, with the best run highlighted.
module Mnist.Experiments.Reports.SweepReport

open System
open System.IO
open Giraffe.ViewEngine
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Experiments.Reports.Html
open Mnist.Experiments.Reports.Charts

let private settingsOf (row: RunRow) = { Spec = row.Spec; Parameters = row.Parameters }

let private runLink (results: string) (pageDir: string) (row: RunRow) =
    let report = Path.Combine(results, row.Folder, Layout.ReportFile)
    a [ _href (Files.relative pageDir report) ] [ code [] [ str row.Id ] ]

/// The cell of a setting: numbers sort by value, the full text (an optimizer's hyperparameters) on hover.
let private settingCell (axis: Axis) (row: RunRow) =
    let s = settingsOf row
    match axis.Kind with
    | Numeric _ -> number (axis.Text s) (axis.Number s)
    | Categorical ->
        let detail = axis.Detail s
        if detail = axis.Text s then text detail else titled (axis.Text s) detail

/// The results columns: (header, cell).
let private resultColumns: (string * (RunRow -> Cell)) list =
    [ "final val acc", (fun r -> optNumber pct r.FinalValidationAccuracy)
      "final test acc", (fun r -> optNumber pct r.FinalTestAccuracy)
      "best test acc", (fun r -> optNumber pct r.BestTestAccuracy)
      "at epoch", (fun r -> optNumber (fun v -> string (int v)) (r.BestEpoch |> Option.map float))
      "test loss", (fun r -> optNumber (inv "F4") r.FinalTestLoss)
      "train time (s)", (fun r -> optNumber (inv "F1") r.TrainSeconds) ]

/// Every run, best first: rank, run, the settings the runs differ in (the shared ones listed
/// above the table instead), then the results.
let private runsTable (results: string) (pageDir: string) (ranked: RunRow list) =
    let bestId = ranked |> List.tryHead |> Option.map (fun r -> r.Id)
    let settings = ranked |> List.map settingsOf
    let varying, shared = Axes.all |> List.partition (fun axis -> ranked.Length < 2 || Axes.varies axis settings)
    let headers =
        [ "rank", false; "run", true ]
        @ [ for axis in varying -> axis.Name, axis.Kind = Categorical ]
        @ [ for name, _ in resultColumns -> name, false ]
    let rows =
        [ for rank, r in List.indexed ranked ->
              (if Some r.Id = bestId then "best" else ""),
              [ number (string (rank + 1)) (float (rank + 1)); element (runLink results pageDir r) r.Id ]
              @ [ for axis in varying -> settingCell axis r ]
              @ [ for _, cell in resultColumns -> cell r ] ]
    [ if not shared.IsEmpty then
          p [ _class "note" ] [
              str "Same in every run: "
              yield! shared |> List.mapi (fun i axis ->
                  [ if i > 0 then str " · "
                    str (axis.Name + " ")
                    b [] [ str (axis.Detail settings.Head) ] ]) |> List.concat
              str "."
          ]
      div [ _class "scroll" ] [ dataTable true headers rows ] ]

let private point (metric: Ranking.Metric) (bestId: string) (x: float) (r: RunRow) =
    { X = x
      Y = 100.0 * (1.0 - metric.Of r)
      Hover = $"{r.Id}: {ExperimentSpec.label r.Spec}, {metric.Name} {pct (metric.Of r)}"
      IsBest = r.Id = bestId }

/// Error against each axis the sweep varies and that has an effect plot, one series per value
/// of the axis it names (runs of one series: every run).
let private effects (metric: Ranking.Metric) (ranked: RunRow list) =
    let bestId = match ranked with best :: _ -> best.Id | [] -> ""
    let yTitle = (metric.Name.Replace("accuracy", "error")) + " (%, log)"
    let settings = ranked |> List.map settingsOf
    [ for axis in Axes.all do
          if Axes.varies axis settings then
              let series =
                  match axis.Effect with
                  | NotPlotted -> []
                  | Plotted -> [ "runs", ranked ]
                  | PlottedPer other ->
                      let by = Axes.named other
                      ranked |> List.groupBy (settingsOf >> by.Text) |> List.sortBy (fun (value, rs) -> by.Number (settingsOf rs.Head), value)
                      |> List.map (fun (value, rs) -> $"{other} {value}", rs)
              if not series.IsEmpty then
                  let title = "Error against " + axis.Name + (match axis.Effect with PlottedPer other -> ", per " + other | _ -> "")
                  match axis.Kind with
                  | Numeric log ->
                      let plotted = series |> List.map (fun (name, rs) -> name, rs |> List.map (fun r -> point metric bestId (axis.Number (settingsOf r)) r))
                      yield numericEffect title (axis.Name + (if log then " (log)" else "")) yTitle log plotted
                  | Categorical ->
                      let plotted = series |> List.map (fun (name, rs) -> name, rs |> List.map (fun r -> axis.Text (settingsOf r), point metric bestId 0.0 r))
                      yield categoricalEffect title axis.Name yTitle plotted ]

/// The sweep page's HTML. <paramref name="unfinished"/> are the started runs that are not
/// complete, with their state; <paramref name="epochsOf"/> gives a run's per-epoch metrics.
let render (results: string) (sweep: string) (description: string) (rows: RunRow list) (unfinished: (RunRow * RunState) list)
           (planned: int) (epochsOf: string -> EpochMetrics list) =
    let pageDir = Layout.sweepDir results sweep
    let ranked = Ranking.rank rows
    let metric = Ranking.metricFor rows
    let pending = planned - ranked.Length
    let states = RunState.Counts(List.map snd unfinished)
    let progress =
        p [ _class "sub" ] [
            str $"{ranked.Length} of {planned} runs complete"
            if pending > 0 then
                str ($" ({pending} still to run" + (if states.IsEmpty then "" else ", of which " + String.Join(" and ", states)) + ": ")
                code [] [ str $"mnist sweep {sweep}" ]
                str " finishes them)"
            str $". Runs are ranked by final {metric.Name}; click a column header to sort by it."
        ]
    let finished =
        match ranked with
        | [] -> [ p [] [ str "No finished runs yet." ] ]
        | best :: _ ->
            let curves = [ for r in ranked -> $"{r.Id} {ExperimentSpec.label r.Spec}", r.Id = best.Id, epochsOf r.Id ]
            let validationCurves = curves |> List.forall (fun (_, _, h) -> h |> List.forall (fun m -> m.ValidationAccuracy.HasValue))
            let finite (v: float) = if Double.IsFinite v then Some v else None
            let errorAndLoss =
                if validationCurves then
                    [ overlaid "Validation error per epoch" "validation error (%, log)" curves (fun m -> Some(100.0 * (1.0 - m.ValidationAccuracy.Value)))
                      overlaid "Validation loss per epoch" "validation loss (log)" curves (fun m -> finite m.ValidationLoss.Value) ]
                else
                    [ overlaid "Test error per epoch" "test error (%, log)" curves (fun m -> Some(100.0 * (1.0 - m.TestAccuracy)))
                      overlaid "Test loss per epoch" "test loss (log)" curves (fun m -> finite m.TestLoss) ]
            [ div [ _class "callout" ] [
                  str "Best run: "
                  runLink results pageDir best
                  str $" — {ExperimentSpec.label best.Spec}: {metric.Name} {pct (metric.Of best)}, test accuracy {optPct best.FinalTestAccuracy}"
              ]
              h2 [] [ str "Runs" ]
              yield! runsTable results pageDir ranked
              h2 [] [ str "Learning curves" ]
              div [ _class "charts" ] [
                  yield! errorAndLoss |> List.map chart
                  chart (overlaid "Training loss per epoch" "training loss (log)" curves (fun m -> finite m.TrainLoss))
              ]
              note ("One line per run, error (100% − accuracy) and loss on log scales so that 1% and 2% stay apart while a diverged run "
                    + "(about 90% error) still fits; lower is better. The best run is the thick line; hover a point to see which run it is.")
              match effects metric ranked with
              | [] -> ()
              | plots ->
                  h2 [] [ str "Effects of the settings" ]
                  div [ _class "charts" ] (plots |> List.map chart)
                  note ("Each point is one run. In numeric plots the faint line joins the best run at each value; the star is the best run "
                        + "overall. Other settings vary too, so read a plot as \"what is reachable at this value\".") ]
    page $"Sweep {sweep}" (PlotlyAsset.relativeFrom results pageDir)
        [ h1 [] [ str $"Sweep {sweep}" ]
          if description <> "" then p [ _class "sub" ] [ str description ]
          progress
          yield! finished ]

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
