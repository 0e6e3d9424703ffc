/// How runs are ranked: by final validation accuracy when every run held out a validation set
/// (choosing by test accuracy would tune on the test set), else by final test accuracy; ties
/// go to the better test accuracy, then the faster run.
module Mnist.Experiments.Ranking

/// The accuracy runs are compared by.
type Metric =
    { Name: string
      Of: RunRow -> float }

let private test (row: RunRow) = row.FinalTestAccuracy |> Option.defaultValue 0.0

/// Validation accuracy when every complete run has one, else test accuracy.
let metricFor (rows: RunRow seq) =
    let complete = rows |> Seq.filter (fun r -> r.IsComplete) |> Seq.toList
    if not complete.IsEmpty && complete |> List.forall (fun r -> r.FinalValidationAccuracy.IsSome) then
        { Name = "validation accuracy"; Of = fun r -> r.FinalValidationAccuracy |> Option.defaultValue 0.0 }
    else
        { Name = "test accuracy"; Of = test }

/// Complete runs, best first.
let rank (rows: RunRow seq) =
    let metric = metricFor rows
    rows
    |> Seq.filter (fun r -> r.IsComplete)
    |> Seq.sortByDescending (fun r -> metric.Of r, test r, -(r.TrainSeconds |> Option.defaultValue 0.0))
    |> Seq.toList

let best (rows: RunRow seq) = rank rows |> List.tryHead
