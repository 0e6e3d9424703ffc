/// results/<sweep>/<id>/report.html: one run's curves, confusion matrix, per-class scores and
/// worst mistakes, from the files in its folder (no dataset needed).
module Mnist.Experiments.Reports.RunReport

open System
open System.IO
open System.Text
open Mnist.Imaging
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Experiments.Reports.Html

let private specList (metrics: RunMetrics) =
    let s = metrics.Spec
    let rows =
        [ "run id", metrics.Id
          "engine", metrics.Engine
          "dataset", s.Dataset
          "model", $"""{s.Preset} × {inv "G4" s.Width} ({metrics.Parameters:N0} parameters)"""
          "activation", s.Activation
          "optimizer", string s.Optimizer
          "learning rate", inv "G6" (float s.LearningRate) + " (peak)"
          "schedule", string s.Schedule
          "batch size", string s.BatchSize
          "epochs", (let ran = metrics.History.Length in if metrics.StoppedEarly then $"{ran} of {s.Epochs} (stopped early)" else string ran)
          "seed", string s.Seed
          "device", ExperimentSpec.deviceKind s
          "training images", (match s.Limit with Some n -> $"first {n:N0}" | None -> "all") + (if s.Validation > 0 then $", last {s.Validation:N0} of them held out for validation" else "")
          "training time", inv "F1" metrics.TrainSeconds + " s in training passes, " + inv "F1" metrics.WallSeconds + " s wall"
          "finished", metrics.FinishedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'") + " on " + metrics.Host ]
    let html = StringBuilder("<dl class=\"spec\">")
    for key, value in rows do
        html.Append("<dt>").Append(esc key).Append("</dt><dd>").Append(esc value).Append("</dd>") |> ignore
    html.Append("</dl>").ToString()

let private epochTable (history: EpochMetrics[]) =
    let optional (v: Nullable<float>) = if v.HasValue then Some v.Value else None
    table false
        [ "epoch", false; "train loss", false; "train acc", false; "val loss", false; "val acc", false
          "test loss", false; "test acc", false; "last lr", false; "seconds", false; "images/s", false ]
        [ for m in history ->
              "",
              [ number (string m.Epoch) (float m.Epoch)
                number (inv "F4" m.TrainLoss) m.TrainLoss
                number (pct m.TrainAccuracy) m.TrainAccuracy
                optNumber (inv "F4") (optional m.ValidationLoss)
                optNumber pct (optional m.ValidationAccuracy)
                number (inv "F4" m.TestLoss) m.TestLoss
                number (pct m.TestAccuracy) m.TestAccuracy
                number (inv "G4" (float m.LastLearningRate)) (float m.LastLearningRate)
                number (inv "F1" m.Seconds) m.Seconds
                number (inv "F0" m.ImagesPerSecond) m.ImagesPerSecond ] ]

let private perClassTable (test: EvaluationSummary) =
    table false
        [ "class", false; "precision", false; "recall", false; "F1", false; "support", false ]
        [ for c in test.PerClass ->
              "",
              [ number (string c.Class) (float c.Class)
                number (pct c.Precision) c.Precision
                number (pct c.Recall) c.Recall
                number (pct c.F1) c.F1
                number (string c.Support) (float c.Support) ] ]

let private mistakesGrid (images: MistakeImages) =
    let html = StringBuilder("<div class=\"grid\">")
    for m in images.Images do
        // Inverted so the digit reads as dark ink on paper.
        let pixels = Convert.FromBase64String m.Pixels |> Array.map (fun p -> 255uy - p)
        let uri = GreyPng.ToDataUrl(GreyPng.Encode(ReadOnlySpan pixels, images.Width, images.Height))
        let confidence = inv "F1" (100.0 * float m.Confidence)
        html.Append($"<figure><img src=\"{uri}\" alt=\"test image {m.Index}: {m.Label} predicted as {m.Predicted}\"><figcaption>")
            .Append($"true {m.Label} → {m.Predicted}<br>{confidence}%% · #{m.Index}").Append("</figcaption></figure>") |> ignore
    html.Append("</div>").ToString()

/// The report's HTML for the run in <paramref name="dir"/>.
let render (results: string) (dir: string) =
    let metrics = RunFiles.readMetrics dir
    let history = List.ofArray metrics.History
    let last = Array.last metrics.History
    let best = metrics.History |> Array.maxBy (fun m -> m.TestAccuracy)
    let body = StringBuilder()
    let sweepIndex = Path.Combine(results, metrics.Sweep, "index.html")
    body.Append($"<p class=\"sub\"><a href=\"{esc (Files.relative dir sweepIndex)}\">← sweep {esc metrics.Sweep}</a></p>")
        .Append($"<h1>Run {esc metrics.Id}</h1><p class=\"sub\">{esc (ExperimentSpec.label metrics.Spec)}</p>")
        .Append("<div class=\"callout\">")
        .Append($"""Final test accuracy <b>{pct metrics.Test.Accuracy}</b> (loss {inv "F4" metrics.Test.Loss})""")
        .Append(if last.ValidationAccuracy.HasValue then $" · validation {pct last.ValidationAccuracy.Value}" else "")
        .Append($" · best test accuracy {pct best.TestAccuracy} at epoch {best.Epoch}")
        .Append($""" · {inv "F1" metrics.TrainSeconds} s of training</div>""")
        .Append("<h2>Settings</h2>").Append(specList metrics)
        .Append("<h2>Learning curves</h2><div class=\"charts\">")
        .Append(chart (Charts.loss history)).Append(chart (Charts.accuracy history)).Append("</div>")
        .Append("<p class=\"note\">Training loss and accuracy are averaged over each epoch's mini-batches while the weights change (dropout on); ")
        .Append("validation and test are measured after the epoch with dropout off. A widening gap between train and validation is over-fitting.</p>")
        .Append(epochTable metrics.History)
        .Append("<h2>Test set: confusion matrix and per-class scores</h2><div class=\"charts\">")
        .Append(chart (Charts.confusion metrics.Test.Confusion)).Append("<div>").Append(perClassTable metrics.Test).Append("</div></div>")
        .Append("<p class=\"note\">Rows are the true digit, columns the prediction; off-diagonal cells are errors. ")
        .Append("Colour follows log(1 + count) so that single mistakes show. Recall is a row's diagonal share, precision a column's.</p>")
    |> ignore
    match RunFiles.tryReadMistakes dir with
    | Some images when images.Images.Length > 0 ->
        body.Append("<h2>Most confident mistakes</h2>")
            .Append("<p class=\"note\">Test images the network got wrong with the highest confidence in its wrong answer (#: index in the test set).</p>")
            .Append(mistakesGrid images) |> ignore
    | _ -> ()
    body.Append("<h2>Files</h2><p>")
        .Append(String.Join(" · ", [ for f in [ Layout.SpecFile; Layout.MetricsFile; Layout.EpochsFile; Layout.ModelFile; Layout.LogFile ] do
                                        if File.Exists(Path.Combine(dir, f)) then yield $"<a href=\"{f}\">{f}</a>" ]))
        .Append("</p>") |> ignore
    page $"Run {metrics.Id} ({metrics.Sweep})" (PlotlyAsset.relativeFrom results dir) (body.ToString())

/// Writes report.html into the run's folder and returns its path.
let write (results: string) (dir: string) =
    PlotlyAsset.ensure results |> ignore
    let path = Path.Combine(dir, Layout.ReportFile)
    Files.writeAllTextAtomic path (render results dir)
    path
