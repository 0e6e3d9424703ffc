/// The settings a run can differ in, each described once — name, how to read it, numeric or
/// categorical, and how its effect is plotted — for the sweep table, the effect plots, the run
/// page and `mnist compare` alike. A new spec field is one entry here.
namespace Mnist.Experiments

open System
open System.Globalization

/// What the axes read: a run's spec and its parameter count (the one setting the spec implies
/// rather than states).
type RunSettings = { Spec: ExperimentSpec; Parameters: int64 }

/// How an axis's values are compared and plotted.
type AxisKind =
    /// Numbers; <c>Log</c>: plotted on a logarithmic axis (learning rates, sizes).
    | Numeric of Log: bool
    | Categorical

/// Whether the sweep report plots error against an axis, and with which series.
type Effect =
    | NotPlotted
    /// Every run as a point of one series.
    | Plotted
    /// One series per value of the axis of this name (learning rate per batch size, ...).
    | PlottedPer of axis: string

type Axis =
    { /// The column header and plot label ("learning rate").
      Name: string
      Kind: AxisKind
      /// The short value shown in tables; runs with different texts differ in this setting.
      Text: RunSettings -> string
      /// The value numeric axes sort and plot by (categorical axes: unused, 0).
      Number: RunSettings -> float
      /// The full value, for a run's page and `mnist compare` (the optimizer with its hyperparameters, ...).
      Detail: RunSettings -> string
      /// The sweep report's plot of error against this axis, when the sweep varies it.
      Effect: Effect }

module Axes =
    let private inv (format: string) (x: float) = x.ToString(format, CultureInfo.InvariantCulture)

    let private categorical name (text: ExperimentSpec -> string) (detail: ExperimentSpec -> string) effect =
        { Name = name; Kind = Categorical; Text = (fun s -> text s.Spec); Number = (fun _ -> 0.0)
          Detail = (fun s -> detail s.Spec); Effect = effect }

    let private numeric name log (value: RunSettings -> float) (text: RunSettings -> string) (detail: RunSettings -> string) effect =
        { Name = name; Kind = Numeric log; Text = text; Number = value; Detail = detail; Effect = effect }

    /// Images a run trains on: the first Limit (or all 60,000), less the validation hold-out.
    let trainingImages (spec: ExperimentSpec) = (spec.Limit |> Option.defaultValue 60000) - spec.Validation

    /// Every axis, in the order tables and pages list them.
    let all: Axis list =
        [ categorical "dataset" (fun s -> s.Dataset) (fun s -> s.Dataset) NotPlotted
          categorical "preset" (fun s -> s.Preset) (fun s -> s.Preset) NotPlotted
          numeric "width" false (fun s -> s.Spec.Width) (fun s -> inv "G4" s.Spec.Width) (fun s -> inv "G4" s.Spec.Width + " × the preset's channels") NotPlotted
          numeric "parameters" true (fun s -> float s.Parameters) (fun s -> s.Parameters.ToString("N0", CultureInfo.InvariantCulture))
              (fun s -> s.Parameters.ToString("N0", CultureInfo.InvariantCulture)) (PlottedPer "activation")
          categorical "activation" (fun s -> s.Activation) (fun s -> s.Activation) (PlottedPer "preset")
          categorical "optimizer" (fun s -> s.Optimizer.Name) (fun s -> string s.Optimizer) (PlottedPer "preset")
          numeric "learning rate" true (fun s -> float s.Spec.LearningRate) (fun s -> inv "G4" (float s.Spec.LearningRate))
              (fun s -> inv "G6" (float s.Spec.LearningRate) + " (peak)") (PlottedPer "batch")
          categorical "schedule" (fun s -> s.Schedule.Name) (fun s -> string s.Schedule) NotPlotted
          numeric "batch" true (fun s -> float s.Spec.BatchSize) (fun s -> string s.Spec.BatchSize) (fun s -> string s.Spec.BatchSize)
              (PlottedPer "learning rate")
          numeric "epochs" false (fun s -> float s.Spec.Epochs) (fun s -> string s.Spec.Epochs) (fun s -> string s.Spec.Epochs) NotPlotted
          numeric "seed" false (fun s -> float s.Spec.Seed) (fun s -> string s.Spec.Seed) (fun s -> string s.Spec.Seed) NotPlotted
          categorical "device" ExperimentSpec.deviceKind ExperimentSpec.deviceKind NotPlotted
          numeric "training images" false (fun s -> float (trainingImages s.Spec)) (fun s -> (trainingImages s.Spec).ToString("N0", CultureInfo.InvariantCulture))
              (fun s ->
                  let spec = s.Spec
                  (match spec.Limit with Some n -> $"first {n:N0}" | None -> "all")
                  + (if spec.Validation > 0 then $", the last {spec.Validation:N0} of them held out for validation" else ""))
              NotPlotted ]

    /// The axis called <paramref name="name"/>.
    let named (name: string) = all |> List.find (fun a -> a.Name = name)

    /// Whether the runs differ in this setting.
    let varies (axis: Axis) (runs: RunSettings list) = runs |> List.map axis.Text |> List.distinct |> List.length > 1
