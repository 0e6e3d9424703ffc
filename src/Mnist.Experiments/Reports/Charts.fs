/// The reports' charts, built with Plotly.NET.
module Mnist.Experiments.Reports.Charts

open System
open Plotly.NET
open Plotly.NET.LayoutObjects
open Mnist.Core.Training

let private size (width: int) (height: int) (chart: GenericChart) = chart |> Chart.withSize (width, height)

/// Whole epochs only on the x axis (Plotly would otherwise tick 0.5, 1.5, ...).
let private epochAxis (yTitle: string) (chart: GenericChart) =
    chart
    |> Chart.withXAxis (LinearAxis.init (Title = Title.init (Text = "epoch"), DTick = 1, TickMode = StyleParam.TickMode.Linear))
    |> Chart.withYAxisStyle (TitleText = yTitle)

let private epochs (history: EpochMetrics seq) = history |> Seq.map (fun m -> m.Epoch) |> Seq.toArray

let private curve name dash (xs: int[]) (ys: float[]) =
    Chart.Line(x = xs, y = ys, Name = name, ShowMarkers = true, LineDash = dash)

/// Loss per epoch: training (measured during the epoch's passes), validation and test.
let loss (history: EpochMetrics list) =
    let xs = epochs history
    [ yield curve "train" StyleParam.DrawingStyle.Solid xs [| for m in history -> m.TrainLoss |]
      if history |> List.forall (fun m -> m.ValidationLoss.HasValue) then
          yield curve "validation" StyleParam.DrawingStyle.Dash xs [| for m in history -> m.ValidationLoss.Value |]
      yield curve "test" StyleParam.DrawingStyle.Dot xs [| for m in history -> m.TestLoss |] ]
    |> Chart.combine
    |> epochAxis "cross-entropy loss"
    |> Chart.withTitle "Loss"
    |> size 600 380

/// Accuracy (%) per epoch: training, validation and test.
let accuracy (history: EpochMetrics list) =
    let xs = epochs history
    [ yield curve "train" StyleParam.DrawingStyle.Solid xs [| for m in history -> 100.0 * m.TrainAccuracy |]
      if history |> List.forall (fun m -> m.ValidationAccuracy.HasValue) then
          yield curve "validation" StyleParam.DrawingStyle.Dash xs [| for m in history -> 100.0 * m.ValidationAccuracy.Value |]
      yield curve "test" StyleParam.DrawingStyle.Dot xs [| for m in history -> 100.0 * m.TestAccuracy |] ]
    |> Chart.combine
    |> epochAxis "accuracy (%)"
    |> Chart.withTitle "Accuracy"
    |> size 600 380

/// The confusion matrix: colour is log10(1 + count), so a handful of errors stands out beside
/// the diagonal's thousands; every cell is labelled with its count.
let confusion (rows: int[][]) =
    let n = rows.Length
    let labels = [| for i in 0 .. n - 1 -> string i |]
    let z = [| for r in rows -> [| for c in r -> Math.Log10(1.0 + float c) |] |]
    let notes =
        [ for i in 0 .. n - 1 do
              for j in 0 .. n - 1 do
                  let count = rows[i][j]
                  let max = float (rows |> Array.collect id |> Array.max)
                  let dark = Math.Log10(1.0 + float count) > 0.6 * Math.Log10(1.0 + max)
                  yield
                      Annotation.init (
                          X = labels[j], Y = labels[i], Text = string count, ShowArrow = false,
                          Font = Font.init (Size = 11., Color = Color.fromString (if dark then "white" else "#1f2933"))) ]
    Chart.Heatmap(zData = z, X = labels, Y = labels, ColorScale = StyleParam.Colorscale.Custom [ 0.0, Color.fromString "#f5f9ff"; 1.0, Color.fromString "#08306b" ], ShowScale = false)
    |> Chart.withAnnotations notes
    |> Chart.withXAxisStyle (TitleText = "predicted")
    |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = "true label"), AutoRange = StyleParam.AutoRange.Reversed))
    |> Chart.withTitle "Confusion matrix (test set)"
    |> size 560 520

let private logY (title: string) (chart: GenericChart) =
    chart |> Chart.withYAxis (LinearAxis.init (Title = Title.init (Text = title), AxisType = StyleParam.AxisType.Log))

/// One line per run: a metric per epoch on a log axis (so 1% and 2% error stay apart while a
/// diverged run still fits), the best run drawn thick.
let overlaid (title: string) (yTitle: string) (runs: (string * bool * EpochMetrics list) list) (value: EpochMetrics -> float option) =
    [ for name, isBest, history in runs do
          let points = history |> List.choose (fun m -> value m |> Option.map (fun v -> m.Epoch, v))
          if not points.IsEmpty then
              yield
                  Chart.Line(
                      x = (points |> List.map fst), y = (points |> List.map snd), Name = name, ShowMarkers = true,
                      ShowLegend = false, LineWidth = (if isBest then 4.0 else 1.5), Opacity = (if isBest then 1.0 else 0.55)) ]
    |> Chart.combine
    |> epochAxis yTitle
    |> logY yTitle
    |> Chart.withTitle title
    |> size 620 420

/// A point of an effect plot: x, y (error %, lower is better), hover text, whether it is the best run.
type EffectPoint = { X: float; Y: float; Hover: string; IsBest: bool }

let private bestMarker (points: EffectPoint list) (xOf: EffectPoint -> 'X) =
    match points |> List.filter (fun p -> p.IsBest) with
    | [] -> []
    | best ->
        [ Chart.Point(
              x = (best |> List.map xOf), y = (best |> List.map (fun p -> p.Y)), Name = "best run",
              MultiText = (best |> List.map (fun p -> p.Hover)), MarkerSymbol = StyleParam.MarkerSymbol.Star,
              MarkerColor = Color.fromString "#f0b429")
          |> Chart.withMarkerStyle (Size = 18) ]

/// Error against a numeric setting, one series per group: every run as a point, a line
/// through the best run at each x. Both axes are logarithmic when <paramref name="log"/> is set
/// (the y axis always is), with a tick at each value the sweep tried.
let numericEffect (title: string) (xTitle: string) (yTitle: string) (log: bool) (series: (string * EffectPoint list) list) =
    let all = series |> List.collect snd
    let ticks = all |> List.map (fun p -> p.X) |> List.distinct |> List.sort
    [ for name, points in series do
          let bestPerX =
              points |> List.groupBy (fun p -> p.X) |> List.map (fun (x, ps) -> x, (ps |> List.minBy (fun p -> p.Y)).Y) |> List.sortBy fst
          yield
              Chart.Scatter(
                  x = (points |> List.map (fun p -> p.X)), y = (points |> List.map (fun p -> p.Y)),
                  mode = StyleParam.Mode.Markers, Name = name, MultiText = (points |> List.map (fun p -> p.Hover)))
          yield
              Chart.Line(x = (bestPerX |> List.map fst), y = (bestPerX |> List.map snd), Name = name + " (best)", ShowLegend = false, Opacity = 0.5)
      yield! bestMarker all (fun p -> p.X) ]
    |> Chart.combine
    |> Chart.withXAxis (
        LinearAxis.init (
            Title = Title.init (Text = xTitle),
            AxisType = (if log then StyleParam.AxisType.Log else StyleParam.AxisType.Linear),
            TickVals = ticks,
            TickText = (ticks |> List.map (fun t -> t.ToString((if t >= 1000.0 then "N0" else "G4"), Globalization.CultureInfo.InvariantCulture)))))
    |> logY yTitle
    |> Chart.withTitle title
    |> size 620 420

/// Error against a categorical setting, one series per group.
let categoricalEffect (title: string) (xTitle: string) (yTitle: string) (series: (string * (string * EffectPoint) list) list) =
    let all = series |> List.collect snd
    [ for name, points in series ->
          Chart.Scatter(
              x = (points |> List.map fst), y = (points |> List.map (fun (_, p) -> p.Y)),
              mode = StyleParam.Mode.Markers, Name = name, MultiText = (points |> List.map (fun (_, p) -> p.Hover)))
      match all |> List.filter (fun (_, p) -> p.IsBest) with
      | [] -> ()
      | best ->
          yield
              Chart.Point(
                  x = (best |> List.map fst), y = (best |> List.map (fun (_, p) -> p.Y)), Name = "best run",
                  MultiText = (best |> List.map (fun (_, p) -> p.Hover)), MarkerSymbol = StyleParam.MarkerSymbol.Star,
                  MarkerColor = Color.fromString "#f0b429")
              |> Chart.withMarkerStyle (Size = 18) ]
    |> Chart.combine
    |> Chart.withXAxisStyle (TitleText = xTitle)
    |> logY yTitle
    |> Chart.withTitle title
    |> size 620 420
