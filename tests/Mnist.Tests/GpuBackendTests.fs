/// The ILGPU backend through its CPU accelerator (ilgpu-cpu, the same kernels a GPU runs):
/// every entry point against the CPU backend, the gradient checks, training steps, evaluation and
/// what a step moves. Shapes stay tiny: the CPU accelerator is slow.
module Mnist.Tests.GpuBackendTests

open System
open Expecto
open Mnist.Core
open Mnist.Core.Backends
open Mnist.Core.GradCheck
open Mnist.Core.IO
open Mnist.Core.Kernels
open Mnist.Core.Losses
open Mnist.Core.Models
open Mnist.Core.Optim
open Mnist.Core.Tensors
open Mnist.Core.Training
open Mnist.Core.Data
open Mnist.Tests.TestData

let private cpu = Backend.Cpu
let private gpu = lazy (Devices.Get "ilgpu-cpu")

let private random (seed: int) (n: int) =
    let r = Random seed
    Array.init n (fun _ -> float32 (r.NextDouble() * 2.0 - 1.0))

let private on (backend: Backend) (values: float32[]) =
    let t = Tensor(backend, values.Length)
    t.CopyFromHost(ReadOnlySpan values)
    t

let private indices (backend: Backend) (values: int[]) =
    let b = IndexBuffer(backend).Resize values.Length
    b.CopyFromHost(ReadOnlySpan values)
    b

/// Largest difference relative to the largest magnitude of the CPU's values.
let private relative (expected: float32[]) (actual: float32[]) =
    let scale = expected |> Array.fold (fun m v -> max m (abs v)) 1e-30f
    Array.fold2 (fun m (e: float32) (a: float32) -> max m (abs (e - a))) 0.0f expected actual / scale

let private close tolerance what (expected: float32[]) (actual: float32[]) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    let r = relative expected actual
    Expect.isTrue (r <= tolerance) $"{what}: relative difference {r} > {tolerance}"

/// Runs f on both backends with the same host inputs; compares every tensor it returns.
let private agree tolerance what (inputs: float32[] list) (f: Backend -> Tensor list -> Tensor list) =
    let run backend = f backend (inputs |> List.map (on backend)) |> List.map (fun t -> t.ToArray())
    List.iteri2 (fun i e a -> close tolerance $"{what} output {i}" e a) (run cpu) (run gpu.Value)

let private entryPointTests =
    testList "entry points agree with the CPU" [
        // k = 70 fits one slice; k = 1300 on a few tiles is split along k, its last slice shorter;
        // k = 0 only scales c by beta.
        for (what, m, n, k) in [ "gemm", 37, 45, 70; "gemm split along k", 10, 12, 1300; "gemm with k = 0", 5, 6, 0 ] do
            test $"{what} ({m}x{n}x{k}), all four transposition cases, beta 0 and 0.5" {
                for ta in [ false; true ] do
                    for tb in [ false; true ] do
                        for beta in [ 0.0f; 0.5f ] do
                            agree 1e-5f $"{what} {ta} {tb} {beta}" [ random 1 (m * k); random 2 (k * n); random 3 (m * n) ] (fun b ts ->
                                let c = ts[2]
                                b.Gemm(ta, tb, m, n, k, ts[0], (if ta then m else k), ts[1], (if tb then k else n), c, n, beta)
                                [ c ])
            }
        test "bias, row sums, axpy, multiply, fill and copy" {
            agree 1e-6f "elementwise" [ random 4 60; random 5 12; random 6 60 ] (fun b ts ->
                let y, bias, x = ts[0], ts[1], ts[2]
                b.AddRowBias(y, 5, bias)
                let sums = Tensor(b, 12)
                b.SumRows(x, 5, sums)
                b.Axpy(0.3f, x, y)
                let prod = Tensor(b, 60)
                b.Multiply(x, y, prod)
                let filled = Tensor(b, 7)
                b.Fill(filled, 2.5f)
                let copied = Tensor(b, 60)
                b.Copy(prod, copied)
                [ y; sums; prod; filled; copied ])
        }
        for g in [ ConvGeometry(2, 7, 6, 3, 3, 1, 1); ConvGeometry(3, 9, 9, 5, 5, 2, 2); ConvGeometry(3, 5, 5, 1, 1, 2, 0) ] do
            test $"convolution forward and both backward passes {g}" {
                let outC, batch = 4, 3
                let ws () = Workspace()
                agree 1e-5f "conv" [ random 7 (batch * g.ImageSize); random 8 (outC * g.ColRows); random 9 outC; random 10 (batch * outC * g.ColCols) ] (fun b ts ->
                    let x, w, bias, dy = ts[0], ts[1], ts[2], ts[3]
                    let mutable g = g
                    let y, dx, dw, db = Tensor(b, dy.Length), Tensor(b, x.Length), Tensor(b, w.Length), Tensor(b, outC)
                    let space = ws ()
                    b.ConvForward(&g, outC, batch, x, w, bias, y, space)
                    b.ConvBackwardData(&g, outC, batch, dy, w, dx, space)
                    b.ConvBackwardWeights(&g, outC, batch, x, dy, dw, db, space)
                    [ y; dx; dw; db ])
            }
        for g in [ PoolGeometry(2, 6, 6, 2, 2); PoolGeometry(2, 7, 7, 3, 2); PoolGeometry(1, 5, 5, 3, 1) ] do
            test $"pooling both ways {g}" {
                let batch = 2
                let ins, outs = batch * g.Channels * g.InPlane, batch * g.Channels * g.OutPlane
                agree 0.0f "pool" [ random 11 ins; random 12 outs ] (fun b ts ->
                    let x, dy = ts[0], ts[1]
                    let mutable g = g
                    let y, dx, ay, adx = Tensor(b, outs), Tensor(b, ins), Tensor(b, outs), Tensor(b, ins)
                    let arg = IndexBuffer(b).Resize outs
                    b.MaxPoolForward(&g, batch, x, y, arg)
                    b.MaxPoolBackward(&g, batch, dy, arg, dx)
                    b.AvgPoolForward(&g, batch, x, ay)
                    b.AvgPoolBackward(&g, batch, dy, adx)
                    [ y; dx; ay; adx ])
            }
        test "global max pooling both ways" {
            agree 0.0f "global max" [ random 13 (6 * 20); random 14 6 ] (fun b ts ->
                let y, dx = Tensor(b, 6), Tensor(b, 120)
                let arg = IndexBuffer(b).Resize 6
                b.GlobalMaxPoolForward(ts[0], 6, 20, y, arg)
                b.GlobalMaxPoolBackward(ts[1], arg, 6, 20, dx)
                [ y; dx ])
        }
        for op in Enum.GetValues<ActivationOp>() do
            test $"activation {op} and its derivative" {
                let f = ActivationFunction(op, 0.1f)
                agree 1e-6f (string op) [ random 15 300 |> Array.map (fun v -> v * 6.0f); random 16 300 ] (fun b ts ->
                    let y, dx = Tensor(b, 300), Tensor(b, 300)
                    b.Activate(f, ts[0], y)
                    b.ActivateBackward(f, ts[0], y, ts[1], dx)
                    [ y; dx ])
            }
        test "dropout masks are the CPU's bit for bit" {
            agree 0.0f "dropout" [ Array.zeroCreate 1001 ] (fun b ts ->
                let mutable stream = RandomStream(12345UL, 2UL, 77UL)
                b.DropoutMask(ts[0], 0.3f, &stream)
                [ ts[0] ])
        }
        test "batch norm statistics, inverse std, apply and backward (training and evaluation)" {
            let batch, channels, plane = 3, 4, 5
            let n = batch * channels * plane
            agree 1e-5f "batch norm" [ random 17 n; random 18 n; random 19 channels; random 20 channels; Array.create channels 1.0f; Array.zeroCreate channels ] (fun b ts ->
                let x, dy, gamma, beta, runVar, runMean = ts[0], ts[1], ts[2], ts[3], ts[4], ts[5]
                let mean, invStd, xhat, y = Tensor(b, channels), Tensor(b, channels), Tensor(b, n), Tensor(b, n)
                b.BatchNormStatistics(x, batch, channels, plane, 0.1f, 1e-5f, runMean, runVar, mean, invStd)
                b.BatchNormApply(x, batch, channels, plane, mean, invStd, gamma, beta, xhat, y)
                let dg, dbeta, dx = Tensor(b, channels), Tensor(b, channels), Tensor(b, n)
                b.BatchNormBackward(dy, xhat, gamma, invStd, batch, channels, plane, true, dg, dbeta, dx)
                let evalInv, edg, edb, edx = Tensor(b, channels), Tensor(b, channels), Tensor(b, channels), Tensor(b, n)
                b.BatchNormInverseStd(runVar, 1e-5f, evalInv)
                b.BatchNormBackward(dy, xhat, gamma, evalInv, batch, channels, plane, false, edg, edb, edx)
                b.BatchNormBackward(dy, xhat, gamma, evalInv, batch, channels, plane, false, edg, edb, null)
                [ runMean; runVar; mean; invStd; xhat; y; dg; dbeta; dx; evalInv; edx ])
        }
        test "softmax cross-entropy: probabilities, the two scalars and the gradient, with and without label smoothing" {
            let batch, classes = 7, 10
            let labels = Array.init batch (fun i -> i * 3 % classes)
            let run smoothing (b: Backend) =
                let logits = on b (random 21 (batch * classes) |> Array.map (fun v -> v * 4.0f))
                let p, grad = Tensor(b, batch * classes), Tensor(b, batch * classes)
                let l = indices b labels
                let result = b.SoftmaxCrossEntropy(logits, l, batch, classes, smoothing, p)
                b.SoftmaxCrossEntropyBackward(p, l, batch, classes, smoothing, grad)
                result, p.ToArray(), grad.ToArray()
            for smoothing in [ 0.0f; 0.1f ] do
                let (r1, p1, g1), (r2, p2, g2) = run smoothing cpu, run smoothing gpu.Value
                Expect.floatClose Accuracy.high (float r2.MeanLoss) (float r1.MeanLoss) $"mean loss, ε = {smoothing}"
                Expect.equal r2.Correct r1.Correct "hits"
                close 1e-6f $"probabilities, ε = {smoothing}" p1 p2
                close 1e-6f $"gradient, ε = {smoothing}" g1 g2
        }
        test "every optimizer update, with each weight penalty" {
            let penalties = [ Regularization(); Regularization(L1 = 0.01f); Regularization(L2 = 0.02f); Regularization(WeightDecay = 0.1f) ]
            for reg in penalties do
                let pen = WeightPenalty(reg, true, 0.05f)
                agree 1e-6f $"updates {reg}" [ random 22 50; random 23 50; random 24 50 |> Array.map abs; random 25 50 |> Array.map abs ] (fun b ts ->
                    let p, g, s0, s1 = ts[0], ts[1], ts[2], ts[3]
                    let mutable pen = pen
                    let copies () = [ p.Clone(); s0.Clone(); s1.Clone() ]
                    let outs = ResizeArray<Tensor>()
                    let track (ts: Tensor list) = outs.AddRange ts
                    let c = copies () in b.SgdUpdate(c[0], g, 0.05f, &pen); track [ c[0] ]
                    let c = copies () in b.MomentumUpdate(c[0], g, c[1], 0.05f, 0.9f, &pen); track c
                    let c = copies () in b.NesterovUpdate(c[0], g, c[1], 0.05f, 0.9f, &pen); track c
                    let c = copies () in b.AdaGradUpdate(c[0], g, c[1], 0.05f, 1e-8f, &pen); track c
                    let c = copies () in b.RmsPropUpdate(c[0], g, c[1], c[2], 0.01f, 0.99f, 1e-8f, 0.9f, &pen); track c
                    let c = copies () in b.RmsPropUpdate(c[0], g, c[1], null, 0.01f, 0.99f, 1e-8f, 0.0f, &pen); track c
                    let c = copies () in b.AdamUpdate(c[0], g, c[1], c[2], 0.9f, 0.999f, 1e-8f, 0.001f, 0.0447f, &pen); track c
                    List.ofSeq outs)
        }
    ]

/// Ten training steps of a preset on a backend: the first step's logits and the parameters after the last.
let private tenSteps (backend: Backend) (preset: string) (width: float) =
    let network = ModelBuilder.Build(Presets.Create(preset, width), 3UL, backend)
    // Nesterov, the default recipe (Adam would turn float noise in near-zero gradients into whole steps).
    let optimizer = Optimizers.Create(OptimizerConfig "nesterov", network.Parameters |> ResizeArray)
    let schedule = Schedules.Create(ScheduleConfig "constant", 0.05f, 10L, 1)
    let loss = SoftmaxCrossEntropy()
    let images = Tensor(backend, 8, 1, 28, 28)
    let mutable first = [||]
    for step in 0 .. 9 do
        let pixels = Array.init images.Length (fun i -> float32 ((i * 7919 + step * 104729) % 256) / 255.0f)
        images.CopyFromHost(ReadOnlySpan pixels)
        let logits = network.Forward(images, true)
        if step = 0 then first <- logits.ToArray()
        loss.Forward(logits, ReadOnlySpan(Array.init 8 (fun i -> (i + step) % 10))) |> ignore
        network.Backward(loss.Backward()) |> ignore
        optimizer.Step schedule |> ignore
    first, network.Parameters |> Seq.map (fun p -> p.Value.ToArray()) |> List.ofSeq

let private trainingTests =
    testList "training" [
        test "ten steps of light (with dropout) follow the CPU: logits within 1e-4, parameters within 1e-3" {
            let logits1, params1 = tenSteps cpu "light" 0.5
            let logits2, params2 = tenSteps gpu.Value "light" 0.5
            close 1e-4f "first step's logits" logits1 logits2
            List.iteri2 (fun i e a -> close 1e-3f $"parameter {i} after ten steps" e a) params1 params2
        }
        test "a step moves the batch in and the two loss scalars out, and views no host memory" {
            let moved = BackendTests.threeStepsOn gpu.Value "light" 0.5
            Expect.equal moved.Uploads 6L $"images and labels, three times: {moved}"
            Expect.equal moved.UploadedBytes (3L * (16L * 784L * 4L + 16L * 4L)) "their bytes"
            Expect.equal moved.Downloads 3L $"the loss and hit count, three times: {moved}"
            Expect.equal moved.DownloadedBytes 24L "two scalars each"
            Expect.equal moved.HostViews 0L "no host views"
        }
        test "copies to and from host arrays survive garbage collections that move the arrays" {
            // ILGPU copies through the host memory's raw address: unpinned, a collection during the
            // copy moved the array and 1–7 of 20,000 round trips came back wrong (or the process crashed).
            let t = Tensor(gpu.Value, 64)
            let labels = IndexBuffer(gpu.Value)
            let stop = ref false
            let collector = Threading.Thread((fun () -> while not stop.Value do GC.Collect(2, GCCollectionMode.Forced, true, true)), IsBackground = true)
            collector.Start()
            let mutable wrong = 0
            try
                for i in 1 .. 20000 do
                    let churn = Array.zeroCreate<byte> (i % 977) // keeps the heap moving
                    let values = Array.init 64 (fun j -> float32 (i * 64 + j))
                    t.CopyFromHost(ReadOnlySpan values)
                    let back = Array.zeroCreate<float32> 64
                    t.CopyToHost(Span back)
                    let ints = Array.init 16 (fun j -> i * 16 + j)
                    labels.CopyFromHost(ReadOnlySpan ints)
                    if back <> values || labels.ToArray() <> ints then wrong <- wrong + 1
                    GC.KeepAlive churn
            finally
                stop.Value <- true
                collector.Join()
            Expect.equal wrong 0 "every round trip returns what was sent"
        }
        test "a CPU-trained model loaded on ilgpu-cpu predicts what the CPU predicts" {
            let config = Presets.Create("light", 0.5)
            let model = ModelBuilder.Build(config, 5UL)
            use dir = new TempDir()
            let path = IO.Path.Combine(dir.Path, "m.safetensors")
            ModelFile.Save(path, model, config, Normalization(0.1f, 0.3f))
            let there = ModelFile.Load(path, gpu.Value)
            let x = RandomInputs.Uniform(6UL, 0.0f, 1.0f, 12, 1, 28, 28)
            let expected = model.Forward(x, false).ToArray()
            let actual = there.Network.Forward(x.To gpu.Value, false).ToArray()
            close 1e-4f "logits" expected actual
            let argmax (v: float32[]) = v |> Array.chunkBySize 10 |> Array.map (fun row -> Array.findIndex ((=) (Array.max row)) row)
            Expect.equal (argmax actual) (argmax expected) "same predictions, so the same accuracy"
        }
    ]

/// The suite's cases on ilgpu-cpu: every layer and the loss, and the classic network (the resnet
/// network checks take minutes there; `mnist gradcheck --device ilgpu-cpu` runs them). These once
/// failed in about half the runs (a wrong numeric gradient, or a crash): ILGPU copied to and from
/// unpinned host arrays that a garbage collection could move during the copy. GpuBackend pins them now.
let private gradCheckTests =
    testList "gradient checks" [
        for case in GradCheckSuite.For(gpu.Force()) do
            if case.Group <> GradCheckSuite.Networks || case.Name.StartsWith "classic" then
                test $"{case.Group}: {case.Name}" {
                    let report = case.Run.Invoke()
                    Expect.isTrue (case.Accepts report) (case.Complaint report)
                }
    ]

[<Tests>]
let tests = testSequenced (testList "GpuBackend (ilgpu-cpu)" [ entryPointTests; trainingTests; gradCheckTests ])
