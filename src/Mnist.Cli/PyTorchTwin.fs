/// Runs scripts/pytorch_twin.py (the PyTorch twin of our networks) and reads its JSON lines.
module Mnist.Cli.PyTorchTwin

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.Evaluation
open Mnist.Core.IO

/// The Python the twin runs on: Debian's, where python3-torch installs.
let systemPython = "/usr/bin/python3"

/// Whether Debian's PyTorch is installed (the twin would otherwise install it first, as root).
let torchInstalled () =
    File.Exists systemPython
    && (use proc = Process.Start(ProcessStartInfo(systemPython, [ "-c"; "import torch" ], RedirectStandardError = true))
        proc.StandardError.ReadToEnd() |> ignore
        proc.WaitForExit()
        proc.ExitCode = 0)

/// Runs the twin with the arguments; returns each JSON line it printed.
let run (args: string list) =
    TwinProcess.jsonLines "the PyTorch twin" (ProcessStartInfo("python3", TwinProcess.checkoutFile "scripts/pytorch_twin.py" :: args))

/// The largest logit difference a twin on the same weights may show (float32 rounding in another order).
[<Literal>]
let Tolerance = 1e-4

/// Our logits and the twin's on the same weights and test digits.
type Comparison = { Count: int; MaxAbsDiff: float; ArgmaxAgreement: float }

/// Runs the saved model at `modelPath` (loaded as `model`) on the first `count` test digits of
/// `data`, and the twin on the same file and digits; the largest logit difference and how often
/// the predictions agree.
let compare (modelPath: string) (model: LoadedModel) (data: MnistDataset) (count: int) =
    let count = min count data.Test.Count
    let logitsPath = Path.Combine(Path.GetTempPath(), $"mnist-logits-{Guid.NewGuid():N}.f32")
    try
        let logits = Evaluator(batchSize = count).Forward(model.Network, BatchLoader(data.Test, model.Normalization), 0, count)
        File.WriteAllBytes(logitsPath, MemoryMarshal.AsBytes(ReadOnlySpan(logits.ToArray())).ToArray())
        let result =
            run [ "compare"; "--model"; modelPath; "--logits"; logitsPath; "--count"; string count; "--data-dir"; data.Directory ]
            |> List.exactlyOne
        let ours, twin = result.GetProperty("nonfinite_ours").GetInt32(), result.GetProperty("nonfinite_twin").GetInt32()
        if ours + twin > 0 then
            raise (MnistException $"the logits are not all finite (ours: {ours} NaN or infinite values, the twin's: {twin}): a diverged model cannot be compared")
        { Count = result.GetProperty("count").GetInt32()
          MaxAbsDiff = result.GetProperty("max_abs_diff").GetDouble()
          ArgmaxAgreement = result.GetProperty("argmax_agreement").GetDouble() }
    finally
        File.Delete logitsPath
