namespace Mnist.Experiments

open System
open System.IO
open Mnist.Core.Evaluation
open Mnist.Core.Training

/// One of the test set's most confident mistakes, with its pixels (base64 bytes, row-major).
type MistakeImage =
    { Index: int; Label: int; Predicted: int; Confidence: float32; Pixels: string }

/// The worst mistakes' images, so reports need no dataset.
type MistakeImages = { Height: int; Width: int; Images: MistakeImage[] }

/// What a finished run writes to metrics.json: its spec, every epoch and the final test evaluation.
type RunMetrics =
    { Id: string
      Engine: string
      Sweep: string
      Spec: ExperimentSpec
      Parameters: int64
      History: EpochMetrics[]
      Test: EvaluationSummary
      StoppedEarly: bool
      /// Seconds spent in training passes (the sum over epochs, evaluation excluded).
      TrainSeconds: float
      /// Wall-clock seconds of the session that finished the run (data loading excluded).
      WallSeconds: float
      FinishedAt: DateTimeOffset
      Host: string }

/// spec.json: the run's identity, written when the run starts.
type RunSpecFile = { Id: string; Engine: string; Spec: ExperimentSpec }

/// Where everything lives under the results folder:
///   runs.db                      the registry (SQLite)
///   plotly.min.js                plotly.js, once for every report
///   .partial/<id>/               a run in progress (checkpoint, live log); renamed when done
///   <sweep>/<id>/                a finished run: spec.json metrics.json mistakes.json
///                                epochs.jsonl model.safetensors log.txt report.html
///   <sweep>/index.html           the sweep report; <sweep>/summary.json its summary
module Layout =
    let database results = Path.Combine(results, "runs.db")
    let sweepDir results (sweep: string) = Path.Combine(results, sweep)
    let runDir results sweep (id: string) = Path.Combine(sweepDir results sweep, id)
    let partialRoot results = Path.Combine(results, ".partial")
    let workDir results (id: string) = Path.Combine(partialRoot results, id)
    let lockFile results (id: string) = Path.Combine(partialRoot results, id + ".lock")
    let sweepReport results sweep = Path.Combine(sweepDir results sweep, "index.html")
    let sweepSummary results sweep = Path.Combine(sweepDir results sweep, "summary.json")

    [<Literal>]
    let SpecFile = "spec.json"
    [<Literal>]
    let MetricsFile = "metrics.json"
    [<Literal>]
    let MistakesFile = "mistakes.json"
    [<Literal>]
    let EpochsFile = "epochs.jsonl"
    [<Literal>]
    let ModelFile = "model.safetensors"
    [<Literal>]
    let LogFile = "log.txt"
    [<Literal>]
    let ReportFile = "report.html"
    [<Literal>]
    let CheckpointFile = "checkpoint.safetensors"

    /// A finished run folder: it only ever appears by renaming a complete work folder.
    let isFinished (dir: string) = File.Exists(Path.Combine(dir, MetricsFile))

module RunFiles =
    let readMetrics (dir: string) = Json.deserialize<RunMetrics> (File.ReadAllText(Path.Combine(dir, Layout.MetricsFile)))

    let tryReadMistakes (dir: string) =
        let path = Path.Combine(dir, Layout.MistakesFile)
        if File.Exists path then Some(Json.deserialize<MistakeImages> (File.ReadAllText path)) else None

    /// The images of the evaluation's worst mistakes, taken from the test split.
    let mistakeImages (test: Mnist.Core.Data.MnistSplit) (mistakes: Mistake seq) =
        { Height = test.Height
          Width = test.Width
          Images =
            [| for m in mistakes ->
                   { Index = m.Index
                     Label = m.Label
                     Predicted = m.Predicted
                     Confidence = m.Confidence
                     Pixels = Convert.ToBase64String(test.Image(m.Index)) } |] }
