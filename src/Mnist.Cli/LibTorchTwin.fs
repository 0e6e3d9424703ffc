/// Runs scripts/libtorch-twin (the LibTorch twin, through TorchSharp: a benchmark reference only)
/// and reads its JSON lines. Its run.sh builds it and brings the C++ runtime it needs.
module Mnist.Cli.LibTorchTwin

open System.Diagnostics

/// Runs the twin with the arguments (the same `train` arguments as the PyTorch twin's); returns each JSON line it printed.
let run (args: string list) =
    TwinProcess.jsonLines "the LibTorch twin" (ProcessStartInfo("bash", TwinProcess.checkoutFile "scripts/libtorch-twin/run.sh" :: args))
