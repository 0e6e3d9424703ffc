/// Pieces the commands share: data loading, formatting, the progress bar.
module Mnist.Cli.Common

open System
open System.Globalization
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.Training

let inv (format: string) (value: float) = value.ToString(format, CultureInfo.InvariantCulture)
let pct (value: float) = inv "F2" (value * 100.0) + "%"

/// MNIST from --data-dir, MNIST_DATA or the cache (fetched when needed), with fetch progress on stderr.
let loadData (dataDir: string option) =
    MnistSource.Load(DataOptions.FromEnvironment(Option.toObj dataDir, fun line -> eprintfn "%s" line))

let require condition message = if not condition then raise (MnistException message)

/// The --device help text every command shares.
let deviceUsage = $"where to compute: {Backends.DeviceName.Forms} (default cpu; `mnist devices` lists what is there)"

/// The backend --device names (the CPU without one); a device this build or machine lacks is one clear error.
let openDevice (device: string option) = Backends.Devices.Get(device |> Option.defaultValue Backends.DeviceName.Cpu)

/// A one-line progress bar on stderr, redrawn at most ten times a second; silent when stderr is
/// not a terminal (logs get the per-epoch lines instead).
type ProgressBar() =
    let interactive = not Console.IsErrorRedirected
    let mutable lastDraw = DateTime.MinValue
    member _.Update(p: BatchProgress) =
        let now = DateTime.UtcNow
        if interactive && ((now - lastDraw).TotalMilliseconds >= 100.0 || p.Samples = p.EpochSamples) then
            lastDraw <- now
            let width = 24
            let filled = int (float width * float p.Samples / float p.EpochSamples)
            let remaining = float (p.EpochSamples - p.Samples) / max p.ImagesPerSecond 1.0
            eprintf "\repoch %d/%d [%s%s] %d/%d %s img/s ETA %ss loss %s acc %s   "
                p.Epoch p.Epochs (String('#', filled)) (String('.', width - filled)) p.Samples p.EpochSamples
                (inv "F0" p.ImagesPerSecond) (inv "F0" remaining) (inv "F4" p.Loss) (pct p.Accuracy)
    member _.Finish() = if interactive then eprintf "\r%s\r" (String(' ', 110))

let describeEpoch (m: EpochMetrics) =
    let validation =
        if m.ValidationAccuracy.HasValue then
            sprintf " | validation loss %s acc %s" (inv "F4" m.ValidationLoss.Value) (pct m.ValidationAccuracy.Value)
        else ""
    sprintf "epoch %d: train loss %s acc %s%s | test loss %s acc %s | %s s, %s img/s"
        m.Epoch (inv "F4" m.TrainLoss) (pct m.TrainAccuracy) validation (inv "F4" m.TestLoss) (pct m.TestAccuracy)
        (inv "F1" m.Seconds) (inv "F0" m.ImagesPerSecond)
