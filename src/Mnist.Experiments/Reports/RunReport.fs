/// results/<sweep>/<id>/report.html: one run's curves, confusion matrix, per-class scores and
/// worst mistakes, from the files in its folder (no dataset needed).
module Mnist.Experiments.Reports.RunReport

open System
open System.IO
open Giraffe.ViewEngine
open Mnist.Imaging
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Experiments.Reports.Html

let private specList (metrics: RunMetrics) =
    let settings = { Spec = metrics.Spec; Parameters = metrics.Parameters }
    let rows =
        [ yield "run id", metrics.Id
          yield "engine", metrics.Engine
          for axis in Axes.all do
              yield axis.Name, axis.Detail settings
          if metrics.StoppedEarly then
              yield "stopped early", $"after {metrics.History.Length} of {metrics.Spec.Epochs} epochs"
          yield "training time", inv "F1" metrics.TrainSeconds + " s in training passes, " + inv "F1" metrics.WallSeconds + " s wall"
          yield "finished", metrics.FinishedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'") + " on " + metrics.Host ]
    dl [ _class "spec" ] [ for key, value in rows do
                               dt [] [ str key ]
                               dd [] [ str value ] ]

let private epochTable (history: EpochMetrics[]) =
    let optional (v: Nullable<float>) = if v.HasValue then Some v.Value else None
    dataTable false
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
    dataTable false
        [ "class", false; "precision", false; "recall", false; "F1", false; "support", false ]
        [ for c in test.PerClass ->
              "",
              [ number (string c.Class) (float c.Class)
                number (pct c.Precision) c.Precision
                number (pct c.Recall) c.Recall
                number (pct c.F1) c.F1
                number (string c.Support) (float c.Support) ] ]

let private mistakesGrid (images: MistakeImages) =
    div [ _class "grid" ] [
        for m in images.Images ->
            // Inverted so the digit reads as dark ink on paper.
            let pixels = Convert.FromBase64String m.Pixels |> Array.map (fun p -> 255uy - p)
            let uri = GreyPng.ToDataUrl(GreyPng.Encode(ReadOnlySpan pixels, images.Width, images.Height))
            let confidence = inv "F1" (100.0 * float m.Confidence)
            figure [] [
                img [ _src uri; _alt $"test image {m.Index}: {m.Label} predicted as {m.Predicted}" ]
                figcaption [] [ str $"true {m.Label} → {m.Predicted}"; br []; str $"{confidence}%% · #{m.Index}" ]
            ]
    ]

/// The report's HTML for the run in <paramref name="dir"/>.
let render (results: string) (dir: string) =
    let metrics = RunFiles.readMetrics dir
    let history = List.ofArray metrics.History
    let last = Array.last metrics.History
    let best = metrics.History |> Array.maxBy (fun m -> m.TestAccuracy)
    let sweepIndex = Path.Combine(results, metrics.Sweep, "index.html")
    let files = [ for f in [ Layout.SpecFile; Layout.MetricsFile; Layout.EpochsFile; Layout.ModelFile; Layout.LogFile ] do
                      if File.Exists(Path.Combine(dir, f)) then yield f ]
    page $"Run {metrics.Id} ({metrics.Sweep})" (PlotlyAsset.relativeFrom results dir) [
        p [ _class "sub" ] [ a [ _href (Files.relative dir sweepIndex) ] [ str $"← sweep {metrics.Sweep}" ] ]
        h1 [] [ str $"Run {metrics.Id}" ]
        p [ _class "sub" ] [ str (ExperimentSpec.label metrics.Spec) ]
        div [ _class "callout" ] [
            str "Final test accuracy "
            b [] [ str (pct metrics.Test.Accuracy) ]
            str ($""" (loss {inv "F4" metrics.Test.Loss})"""
                 + (if last.ValidationAccuracy.HasValue then $" · validation {pct last.ValidationAccuracy.Value}" else "")
                 + $" · best test accuracy {pct best.TestAccuracy} at epoch {best.Epoch}"
                 + $""" · {inv "F1" metrics.TrainSeconds} s of training""")
        ]
        h2 [] [ str "Settings" ]
        specList metrics
        h2 [] [ str "Learning curves" ]
        div [ _class "charts" ] [ chart (Charts.loss history); chart (Charts.accuracy history) ]
        note ("Training loss and accuracy are averaged over each epoch's mini-batches while the weights change (dropout on); "
              + "validation and test are measured after the epoch with dropout off. A widening gap between train and validation is over-fitting.")
        epochTable metrics.History
        h2 [] [ str "Test set: confusion matrix and per-class scores" ]
        div [ _class "charts" ] [ chart (Charts.confusion metrics.Test.Confusion); div [] [ perClassTable metrics.Test ] ]
        note ("Rows are the true digit, columns the prediction; off-diagonal cells are errors. "
              + "Colour follows log(1 + count) so that single mistakes show. Recall is a row's diagonal share, precision a column's.")
        match RunFiles.tryReadMistakes dir with
        | Some images when images.Images.Length > 0 ->
            h2 [] [ str "Most confident mistakes" ]
            note "Test images the network got wrong with the highest confidence in its wrong answer (#: index in the test set)."
            mistakesGrid images
        | _ -> ()
        h2 [] [ str "Files" ]
        p [] (files |> List.mapi (fun i f -> [ if i > 0 then str " · "
                                               a [ _href f ] [ str f ] ]) |> List.concat)
    ]

/// Writes report.html into the run's folder and returns its path.
let write (results: string) (dir: string) =
    PlotlyAsset.ensure results |> ignore
    let path = Path.Combine(dir, Layout.ReportFile)
    Files.writeAllTextAtomic path (render results dir)
    path
