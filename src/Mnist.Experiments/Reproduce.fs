namespace Mnist.Experiments

open System
open System.IO
open Mnist.Core
open Mnist.Core.Training

type Reproduction =
    { Run: RunRow
      Recorded: RunMetrics
      History: EpochMetrics list
      TestAccuracy: float
      /// Every number that differs (empty: the rerun reproduced the record exactly).
      Differences: string list }
    member r.Matches = r.Differences.IsEmpty

/// `mnist run <id>`: trains a recorded run again from its spec and compares every number.
module Reproduce =
    /// The one run whose id starts with the prefix.
    let find (registry: Registry) (prefix: string) =
        match registry.Find prefix with
        | [ row ] -> row
        | [] -> raise (MnistException $"no run with id '{prefix}' in {registry.Location}")
        | rows ->
            let ids = rows |> List.truncate 5 |> List.map (fun r -> r.Id) |> String.concat ", "
            raise (MnistException $"'{prefix}' matches {rows.Length} runs ({ids}...); give more of the id")

    let private r (x: float) = x.ToString("R", Globalization.CultureInfo.InvariantCulture)

    /// The differences between a recorded history and test result and a new one (timings aside).
    let differences (recorded: RunMetrics) (history: EpochMetrics list) (test: EvaluationSummary) =
        [ if recorded.History.Length <> history.Length then
              yield $"epochs: recorded {recorded.History.Length}, reproduced {history.Length}"
          for a, b in Seq.zip recorded.History history do
              let check name (x: float) (y: float) =
                  if x <> y then Some $"epoch {a.Epoch} {name}: recorded {r x}, reproduced {r y}" else None
              let checkOpt name (x: Nullable<float>) (y: Nullable<float>) =
                  if x.HasValue <> y.HasValue || (x.HasValue && x.Value <> y.Value) then
                      Some $"epoch {a.Epoch} {name}: recorded {x}, reproduced {y}"
                  else None
              yield!
                  [ check "train loss" a.TrainLoss b.TrainLoss
                    check "train accuracy" a.TrainAccuracy b.TrainAccuracy
                    checkOpt "validation loss" a.ValidationLoss b.ValidationLoss
                    checkOpt "validation accuracy" a.ValidationAccuracy b.ValidationAccuracy
                    check "test loss" a.TestLoss b.TestLoss
                    check "test accuracy" a.TestAccuracy b.TestAccuracy
                    check "learning rate" (float a.LastLearningRate) (float b.LastLearningRate) ]
                  |> List.choose id
          if recorded.Test.Accuracy <> test.Accuracy then
              yield $"final test accuracy: recorded {r recorded.Test.Accuracy}, reproduced {r test.Accuracy}"
          if recorded.Test.Confusion <> test.Confusion then yield "confusion matrix differs" ]

    /// Reruns the run (in memory: nothing is written to the results folder) and compares.
    let run (options: RunnerOptions) (prefix: string) (say: string -> unit) =
        let registry = Registry.OpenExisting(options.RegistryLocation, options.Results)
        let row = find registry prefix
        if not row.IsComplete then
            raise (MnistException $"run {row.Id} has not finished; `mnist sweep {row.Sweep}` completes it")
        let dir = Path.Combine(options.Results, row.Folder)
        if not (Layout.isFinished dir) then raise (MnistException $"run {row.Id}: its files are missing from {dir}")
        let recorded = RunFiles.readMetrics dir
        if recorded.Engine <> EngineVersion.Current then
            say $"note: recorded with engine {recorded.Engine}, this build is {EngineVersion.Current}; numbers may differ"
        say $"rerunning {row.Id}: {ExperimentSpec.label recorded.Spec}"
        let data = Runner.loadDataset options recorded.Spec.Dataset
        let callbacks =
            TrainingCallbacks(
                Epoch = (fun m -> say $"epoch {m.Epoch}: test accuracy {100.0 * m.TestAccuracy:F2}%% ({m.Seconds:F1} s)"),
                Log = say)
        let trainer = Trainer(ExperimentSpec.modelConfig recorded.Spec, ExperimentSpec.trainingSpec recorded.Spec)
        let result = trainer.Run(data, callbacks, null, false, options.Cancel)
        let history = List.ofSeq result.History
        let test = EvaluationSummary.Of result.Test
        { Run = row
          Recorded = recorded
          History = history
          TestAccuracy = test.Accuracy
          Differences = differences recorded history test }
