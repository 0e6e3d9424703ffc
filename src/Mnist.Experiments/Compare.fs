/// `mnist compare a b`: two runs side by side, as text.
module Mnist.Experiments.Compare

open System
open System.IO
open System.Text
open Mnist.Core

let private inv (format: string) (x: float) = x.ToString(format, Globalization.CultureInfo.InvariantCulture)
let private pct = function Some (x: float) -> inv "F2" (100.0 * x) + "%" | None -> "—"

/// The comparison of two complete runs as lines of text.
let render (results: string) (a: RunRow) (b: RunRow) =
    let load (row: RunRow) =
        let dir = Path.Combine(results, row.Folder)
        if not (row.IsComplete && Layout.isFinished dir) then raise (MnistException $"run {row.Id} has no finished results")
        RunFiles.readMetrics dir
    let ma, mb = load a, load b
    let text = StringBuilder()
    let width = 16
    let line (label: string) (x: string) (y: string) =
        let mark = if x <> y then "*" else " "
        text.Append(mark).Append(' ').Append(label.PadRight 22).Append(' ') |> ignore
        if x.Length < width && y.Length < 40 then text.Append(x.PadRight width).AppendLine(y) |> ignore
        else text.AppendLine(x).Append(' ', 25).AppendLine(if x = y then "(same)" else y) |> ignore
    text.AppendLine("  (* marks a difference)") |> ignore
    line "run" a.Id b.Id
    line "sweep" a.Sweep b.Sweep
    line "engine" ma.Engine mb.Engine
    let settings (m: RunMetrics) = { Spec = m.Spec; Parameters = m.Parameters }
    for axis in Axes.all do
        line axis.Name (axis.Detail (settings ma)) (axis.Detail (settings mb))
    text.AppendLine() |> ignore
    line "final test accuracy" (pct a.FinalTestAccuracy) (pct b.FinalTestAccuracy)
    line "final val accuracy" (pct a.FinalValidationAccuracy) (pct b.FinalValidationAccuracy)
    line "best test accuracy" (pct a.BestTestAccuracy) (pct b.BestTestAccuracy)
    line "final test loss" (a.FinalTestLoss |> Option.map (inv "F4") |> Option.defaultValue "—") (b.FinalTestLoss |> Option.map (inv "F4") |> Option.defaultValue "—")
    line "training time (s)" (inv "F1" ma.TrainSeconds) (inv "F1" mb.TrainSeconds)
    text.AppendLine().AppendLine("  epoch  test accuracy a   test accuracy b   train loss a   train loss b") |> ignore
    for e in 1 .. max ma.History.Length mb.History.Length do
        let get (m: RunMetrics) f = if e <= m.History.Length then f m.History[e - 1] else "—"
        let acc (m: Mnist.Core.Training.EpochMetrics) = inv "F2" (100.0 * m.TestAccuracy) + "%"
        let loss (m: Mnist.Core.Training.EpochMetrics) = inv "F4" m.TrainLoss
        text.AppendLine($"  {e,5}  {get ma acc,15}   {get mb acc,15}   {get ma loss,12}   {get mb loss,12}") |> ignore
    text.AppendLine().AppendLine("  class  recall a   recall b   change") |> ignore
    for ca, cb in Seq.zip ma.Test.PerClass mb.Test.PerClass do
        let delta = 100.0 * (cb.Recall - ca.Recall)
        let sign = if delta > 0.0 then "+" else ""
        let ra, rb, d = inv "F2" (100.0 * ca.Recall), inv "F2" (100.0 * cb.Recall), inv "F2" delta
        // A string first: StringBuilder's interpolated-string overload would keep "%%" as it is.
        let row: string = $"  {ca.Class,5}  {ra,7}%%  {rb,7}%%  {sign}{d} pt"
        text.AppendLine(row) |> ignore
    text.ToString()
