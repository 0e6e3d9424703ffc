/// The backend seam: what a training step moves between host and device, device names and
/// their errors, device kinds in specs and run ids, and models crossing backends.
module Mnist.Tests.BackendTests

open System
open Expecto
open Mnist.Core
open Mnist.Core.Backends
open Mnist.Core.Data
open Mnist.Core.GradCheck
open Mnist.Core.IO
open Mnist.Core.Layers
open Mnist.Core.Losses
open Mnist.Core.Models
open Mnist.Core.Optim
open Mnist.Core.Tensors
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Tests.TestData

let private cpu = Backend.Cpu

/// This thread's transfers while f runs (other tests run on other threads meanwhile).
let private transfersOn (backend: Backend) (f: unit -> unit) =
    let before = backend.ThreadTransfers
    f ()
    backend.ThreadTransfers - before

let private transfersOf = transfersOn cpu

/// What three training steps (batch up, forward, loss, backward, update) of a preset move on a backend, after a warm-up.
let threeStepsOn (backend: Backend) (preset: string) (width: float) =
    let network = ModelBuilder.Build(Presets.Create(preset, width), 1UL, backend)
    network.ComputeInputGradient <- false
    let optimizer = Optimizers.Create(OptimizerConfig "nesterov", network.Parameters |> ResizeArray)
    let schedule = Schedules.Create(ScheduleConfig "onecycle", 0.05f, 100L, 10)
    let loss = SoftmaxCrossEntropy()
    let images = Tensor(backend, 16, 1, 28, 28)
    let pixels = Array.init images.Length (fun i -> float32 (i * 7919 % 256) / 255.0f)
    let labels = Array.init 16 (fun i -> i % 10)
    let step () =
        images.CopyFromHost(ReadOnlySpan pixels)
        let logits = network.Forward(images, true)
        loss.Forward(logits, ReadOnlySpan labels) |> ignore
        network.Backward(loss.Backward()) |> ignore
        optimizer.Step schedule |> ignore
    step ()
    transfersOn backend (fun () -> for _ in 1 .. 3 do step ())

let private transferTests =
    testList "transfers" [
        for preset, width in [ "classic", 1.0; "resnet", 0.25 ] do
            yield test (sprintf "a %s training step uploads the batch, downloads the loss, and views no host memory" preset) {
                let moved = threeStepsOn cpu preset width
                Expect.equal moved.Uploads 6L $"images and labels, three times: {moved}"
                Expect.equal moved.UploadedBytes (3L * (16L * 784L * 4L + 16L * 4L)) "their bytes"
                Expect.equal moved.Downloads 3L $"the loss and hit count, three times: {moved}"
                Expect.equal moved.DownloadedBytes 24L "two scalars each"
                Expect.equal moved.HostViews 0L $"no layer, loss or optimizer touches host memory: {moved}"
            }
        yield test "the trainer's steps move the same, batch after batch" {
            if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
            let full = MnistSource.Load(DataOptions.FromEnvironment mnistDir)
            let data = MnistDataset(full.Train.Take 256, full.Test.Take 100, full.Directory)
            let seen = ResizeArray<TransferCounts>()
            let callbacks = TrainingCallbacks(Batch = fun _ -> seen.Add cpu.ThreadTransfers)
            let result = Trainer(Presets.Create "light", TrainingSpec(Epochs = 1, BatchSize = 32, TestLimit = 40)).Run(data, callbacks)
            Expect.equal result.Test.Count 40 "evaluated on the first 40 test images (--test-limit)"
            Expect.equal seen.Count 8 "eight batches"
            for i in 1 .. seen.Count - 1 do
                let step = seen[i] - seen[i - 1]
                Expect.equal (step.Uploads, step.Downloads, step.HostViews) (2L, 1L, 0L) $"step {i + 1}: {step}"
        }
        yield test "explicit copies count and land where asked" {
            let t = Tensor(cpu, 2, 3)
            let moved =
                transfersOf (fun () ->
                    t.CopyFromHost(ReadOnlySpan [| 1.0f; 2.0f |], 4)
                    let back = Array.zeroCreate<float32> 3
                    t.CopyToHost(Span back, 3)
                    Expect.equal back [| 0.0f; 1.0f; 2.0f |] "elements 3..5")
            Expect.equal (moved.Uploads, moved.Downloads, moved.HostViews) (1L, 1L, 0L) "one each way"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> t.CopyFromHost(ReadOnlySpan [| 1.0f; 2.0f |], 5)) "past the end"
            let viewed = transfersOf (fun () -> t.Span.Fill 0.0f)
            Expect.equal viewed.HostViews 1L "Span is a counted host view"
        }
    ]

let private deviceTests =
    testList "devices" [
        test "device names parse; others name the valid forms" {
            Expect.equal (DeviceName.Parse "cpu") (DeviceName("cpu")) "cpu"
            Expect.equal (DeviceName.Parse " CUDA ") (DeviceName("cuda")) "cuda"
            Expect.equal (DeviceName.Parse "cuda:1") (DeviceName("cuda", Nullable 1)) "cuda:1"
            Expect.equal (DeviceName.Parse "ilgpu-cpu").Kind "ilgpu-cpu" "ilgpu-cpu"
            for bad in [ "gpu"; "cpu:0"; "cuda:"; "cuda:x"; "cuda:-1"; "" ] do
                let e = throws<MnistException> (fun () -> DeviceName.Parse bad |> ignore)
                Expect.stringContains e.Message "valid devices: cpu, cuda, cuda:N, ilgpu-cpu" bad
        }
        test "the CPU is always there; a GPU kind without the GPU backend is one clear line" {
            Expect.isTrue (obj.ReferenceEquals(Devices.Get "cpu", cpu)) "cpu"
            let first = Devices.List() |> Seq.head
            Expect.equal first.Name "cpu" "listed first"
            Expect.stringContains first.Details "Vector<float>" "SIMD width"
            if not (Devices.AvailableKinds() |> Seq.contains "cuda") then
                let e = throws<MnistException> (fun () -> Devices.Get "cuda" |> ignore)
                Expect.stringContains e.Message "device 'cuda' needs the GPU backend" "names the problem"
                Expect.isFalse (e.Message.Contains '\n') "one line"
        }
        test "a training spec records a GPU kind, never the CPU or an index" {
            Expect.equal (TrainingSpec()).DeviceKind "cpu" "default"
            Expect.equal (TrainingSpec().ToJson()) (TrainingSpec(Device = null).ToJson()) "the CPU leaves the JSON as it was"
            Expect.stringContains (TrainingSpec(Device = "cuda").ToJson()) "\"device\":\"cuda\"" "a GPU kind is written"
            for bad in [ "cpu"; "cuda:0"; "tpu" ] do
                throws<MnistException> (fun () -> TrainingSpec(Device = bad).Validate() |> ignore) |> ignore
            let e = throws<MnistException> (fun () -> Trainer(Presets.Create "light", TrainingSpec(Device = "cuda"), cpu).Run(Unchecked.defaultof<_>) |> ignore)
            Expect.stringContains e.Message "device 'cuda'" "a backend of another kind is refused"
        }
        test "GPU runs get ids of their own; a CPU run's id is unchanged" {
            let id json = ExperimentSpec.runId (ExperimentSpec.ofJson json)
            let plain = id """{ "epochs": 2 }"""
            Expect.equal (id """{ "epochs": 2, "device": "cpu" }""") plain "cpu is the default"
            Expect.equal (ExperimentSpec.runIdFor "engine-1" ExperimentSpec.defaults) "32c012816dce" "the default spec's id"
            let cuda = id """{ "epochs": 2, "device": "cuda" }"""
            Expect.notEqual cuda plain "cuda differs"
            Expect.equal (id """{ "epochs": 2, "device": "cuda:1" }""") cuda "the index is not part of the spec"
            Expect.notEqual (id """{ "epochs": 2, "device": "ilgpu-cpu" }""") cuda "each kind its own"
            Expect.isFalse ((ExperimentSpec.canonicalJson (ExperimentSpec.ofJson """{ "device": "cpu" }""")).Contains "device") "cpu is left out"
            let spec = ExperimentSpec.ofJson """{ "device": "CUDA:0" }"""
            Expect.equal spec.Device (Some "cuda") "kind recorded"
            Expect.equal (ExperimentSpec.trainingSpec spec).Device "cuda" "and handed to the trainer"
            Expect.stringContains (ExperimentSpec.label spec) "on cuda" "label"
        }
    ]

let private portabilityTests =
    testList "portability" [
        test "tensors cross backends through the host; a model saved and loaded keeps every bit" {
            let model = ModelBuilder.Build(Presets.Create "light", 4UL)
            use dir = new TempDir()
            let path = IO.Path.Combine(dir.Path, "m.safetensors")
            ModelFile.Save(path, model, Presets.Create "light", Normalization(0.1f, 0.3f))
            let loaded = ModelFile.Load(path, cpu)
            let values (n: Sequential) = ModelFile.NamedTensors n |> Seq.map (fun struct (_, t) -> t.ToArray()) |> List.ofSeq
            Expect.equal (values loaded.Network) (values model) "same weights"
            let x = RandomInputs.Uniform(2UL, 0.0f, 1.0f, 3, 1, 28, 28)
            Expect.equal (loaded.Network.Forward(x, false).ToArray()) (model.Forward(x, false).ToArray()) "same logits"
            Expect.isTrue (obj.ReferenceEquals(x.To cpu, x)) "To its own backend is the tensor itself"
        }
    ]

[<Tests>]
let tests = testList "Backends" [ transferTests; deviceTests; portabilityTests ]
