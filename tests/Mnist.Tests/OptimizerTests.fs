/// Optimizers, their configs and learning-rate schedules, checked against hand-computed values
/// (which PyTorch 1.13 reproduces), a scalar float64 reference of the documented formulas, small
/// minimisation problems, and bit-exact resume from exported state.
module Mnist.Tests.OptimizerTests

open System
open System.Text.Json
open Expecto
open Mnist.Core
open Mnist.Core.IO
open Mnist.Core.Kernels
open Mnist.Core.Layers
open Mnist.Core.Optim
open Mnist.Core.Tensors

// ------------------------------------------------------------------ helpers

let private param name (values: float32[]) decay =
    Parameter(name, Tensor(Array.copy values, [| values.Length |]), Decay = decay)

let private setGrad (p: Parameter) (g: float32[]) = g.AsSpan().CopyTo(p.Grad.Span)

let private valuesOf (p: Parameter) = p.Value.Span.ToArray()

let private bitsOf (xs: float32[]) = xs |> Array.map BitConverter.SingleToInt32Bits

let private expectClose tol (expected: seq<float>) (actual: float32[]) what =
    let expected = Array.ofSeq expected
    Expect.equal actual.Length expected.Length $"{what}: length"
    for i in 0 .. expected.Length - 1 do
        let diff = abs (float actual.[i] - expected.[i])
        if not (diff <= tol * (1.0 + abs expected.[i])) then
            failtestf "%s: element %d is %.9g, expected %.9g" what i actual.[i] expected.[i]

let private create (config: OptimizerConfig) (ps: Parameter[]) = Optimizers.Create(config, ps)

let private messageOf (f: unit -> 'a) =
    try
        f () |> ignore
        failtest "expected a MnistException"
    with :? MnistException as e -> e.Message

let private expectMessage (f: unit -> 'a) (fragments: string list) what =
    let message = messageOf f
    for fragment in fragments do
        Expect.stringContains message fragment $"{what}: message {message}"

let private allNames = [ "sgd"; "momentum"; "nesterov"; "adagrad"; "rmsprop"; "adam"; "adamw" ]

// ------------------------------------------------------------------ first steps by hand

// p = [1, -2, 0.5], g = [0.1, 0.2, -0.3] on both steps, lr = 0.1. Values derived from the
// PyTorch docs' formulas; PyTorch 1.13 prints the same (to float32 precision).
let private firstSteps =
    [ // p - 2·lr·g
      OptimizerConfig("sgd"), [ 0.98; -2.04; 0.56 ]
      // v1 = g, v2 = 0.9g + g = 1.9g: p - lr·(1 + 1.9)g = p - 0.29g
      OptimizerConfig("momentum"), [ 0.971; -2.058; 0.587 ]
      // step 1: g + 0.9·v1 = 1.9g; step 2: g + 0.9·1.9g = 2.71g: p - 0.461g
      OptimizerConfig("nesterov"), [ 0.9539; -2.0922; 0.6383 ]
      // s1 = g², s2 = 2g²: p - lr·sign(g)·(1 + 1/√2)
      OptimizerConfig("adagrad"), [ 0.829289322; -2.170710678; 0.670710678 ]
      // s1 = 0.01g² (step 10·lr), s2 = 0.0199g² (step lr/√0.0199): p - 1.708881·sign(g)
      OptimizerConfig("rmsprop"), [ -0.708881205; -3.708881205; 2.208881205 ]
      // with momentum 0.5: b1 = 10 sign g, b2 = 5 + 7.0888: p - 0.1·(10 + 12.0888)·sign(g)
      OptimizerConfig("rmsprop", Momentum = Nullable 0.5f), [ -1.208881205; -4.208881205; 2.708881205 ]
      // bias correction makes both m̂ = g and v̂ = g²: p - 2·lr·sign(g)
      OptimizerConfig("adam"), [ 0.8; -2.2; 0.7 ]
      // p·(1 - lr·λ) - lr·sign(g), twice, λ = 0.1
      OptimizerConfig("adamw", WeightDecay = Nullable 0.1f), [ 0.7811; -2.1592; 0.68905 ]
      // coupled L2 (PyTorch's Adam weight_decay = 0.5); PyTorch 1.13's values
      OptimizerConfig("adam", L2 = 0.5f), [ 0.800320864; -1.80022001; 0.667005777 ] ]

let private firstStepTests =
    testList "first steps by hand" [
        for config, expected in firstSteps do
            let name = config.Name
            test $"{config}" {
                let p = param "w" [| 1f; -2f; 0.5f |] true
                let opt = create config [| p |]
                for _ in 1..2 do
                    setGrad p [| 0.1f; 0.2f; -0.3f |]
                    opt.Step 0.1f
                expectClose 2e-6 expected (valuesOf p) name
                Expect.equal opt.StepCount 2L "step count"
            }
        test "sgd L2 adds l2·p to the gradient (PyTorch weight_decay 0.5)" {
            let p = param "w" [| 1f; -2f; 0.5f |] true
            let opt = create (OptimizerConfig("sgd", L2 = 0.5f)) [| p |]
            setGrad p [| 0.1f; 0.2f; -0.3f |]
            opt.Step 0.1f
            expectClose 1e-7 [ 0.94; -1.92; 0.505 ] (valuesOf p) "sgd l2"
        }
        test "sgd L1 adds l1·sign(p), and nothing where p = 0" {
            let p = param "w" [| 1f; -2f; 0f |] true
            let opt = create (OptimizerConfig("sgd", L1 = 0.5f)) [| p |]
            setGrad p [| 0.1f; 0.2f; -0.3f |]
            opt.Step 0.1f
            // 1 - 0.1·(0.1 + 0.5); -2 - 0.1·(0.2 - 0.5); 0 - 0.1·(-0.3)
            expectClose 1e-7 [ 0.94; -1.97; 0.03 ] (valuesOf p) "sgd l1"
        }
        test "penalties skip parameters with Decay = false" {
            for name in allNames do
                let w = param "w" [| 1f; -2f; 0.5f |] true
                let b = param "b" [| 1f; -2f; 0.5f |] false
                let plain = param "w" [| 1f; -2f; 0.5f |] true
                let opt = create (OptimizerConfig(name, L1 = 0.3f, L2 = 0.2f, WeightDecay = Nullable 0.1f)) [| w; b |]
                let reference = create (OptimizerConfig(name, WeightDecay = Nullable 0f)) [| plain |]
                for _ in 1..3 do
                    for p in [ w; b; plain ] do setGrad p [| 0.1f; 0.2f; -0.3f |]
                    opt.Step 0.1f
                    reference.Step 0.1f
                Expect.equal (bitsOf (valuesOf b)) (bitsOf (valuesOf plain)) $"{name}: bias untouched by penalties"
                Expect.notEqual (bitsOf (valuesOf w)) (bitsOf (valuesOf plain)) $"{name}: weight penalised"
        }
        test "AdamW with a zero gradient only shrinks by (1 - lr·λ) per step" {
            let w = param "w" [| 1f; -2f; 0.5f |] true
            let b = param "b" [| 1f; -2f; 0.5f |] false
            let opt = AdamW([| w; b |], weightDecay = 0.1f)
            for _ in 1..10 do opt.Step 0.1f
            expectClose 1e-6 [ for x in [ 1.0; -2.0; 0.5 ] -> x * 0.99 ** 10.0 ] (valuesOf w) "decayed weight"
            Expect.equal (valuesOf b) [| 1f; -2f; 0.5f |] "bias unchanged"
        }
    ]

// ------------------------------------------------------------------ scalar float64 reference

/// The documented per-element formulas, in float64, one parameter; `decay` says whether the
/// penalties apply. Returns the parameter after every gradient has been applied.
let private reference (name: string) (c: OptimizerConfig) decay (p0: float32[]) (grads: float32[][]) (lrs: float[]) =
    let c = c.Resolve()
    let value (x: Nullable<float32>) = float x.Value
    let n = p0.Length
    let p = Array.map float p0
    let s0 = Array.zeroCreate<float> n
    let s1 = Array.zeroCreate<float> n
    let l1, l2, wd = (if decay then float c.L1, float c.L2, value c.WeightDecay else 0.0, 0.0, 0.0)
    for k in 0 .. grads.Length - 1 do
        let lr, t = lrs.[k], float (k + 1)
        for i in 0 .. n - 1 do
            let x = p.[i]
            let g = float grads.[k].[i] + l2 * x + l1 * float (sign x)
            let shrunk = x * (1.0 - lr * wd)
            p.[i] <-
                match name with
                | "sgd" -> shrunk - lr * g
                | "momentum" ->
                    s0.[i] <- value c.Momentum * s0.[i] + g
                    shrunk - lr * s0.[i]
                | "nesterov" ->
                    let mu = value c.Momentum
                    s0.[i] <- mu * s0.[i] + g
                    shrunk - lr * (g + mu * s0.[i])
                | "adagrad" ->
                    s0.[i] <- s0.[i] + g * g
                    shrunk - lr * g / (sqrt s0.[i] + value c.Eps)
                | "rmsprop" ->
                    let alpha, mu = value c.Beta2, value c.Momentum
                    s0.[i] <- alpha * s0.[i] + (1.0 - alpha) * g * g
                    let u = g / (sqrt s0.[i] + value c.Eps)
                    if mu > 0.0 then
                        s1.[i] <- mu * s1.[i] + u
                        shrunk - lr * s1.[i]
                    else shrunk - lr * u
                | _ -> // adam, adamw
                    let b1, b2 = value c.Beta1, value c.Beta2
                    s0.[i] <- b1 * s0.[i] + (1.0 - b1) * g
                    s1.[i] <- b2 * s1.[i] + (1.0 - b2) * g * g
                    let mHat = s0.[i] / (1.0 - b1 ** t)
                    let vHat = s1.[i] / (1.0 - b2 ** t)
                    shrunk - lr * mHat / (sqrt vHat + value c.Eps)
    p

let private randomVector (rng: Random) n = Array.init n (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0))

let private referenceTests =
    let l1, l2, wd = 0.001f, 0.01f, Nullable 0.02f
    let settings =
        [ OptimizerConfig("sgd", L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("momentum", Momentum = Nullable 0.8f, L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("nesterov", L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("adagrad", L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("rmsprop", L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("rmsprop", Momentum = Nullable 0.7f, Beta2 = Nullable 0.9f, L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("adam", Beta1 = Nullable 0.8f, Beta2 = Nullable 0.99f, L1 = l1, L2 = l2, WeightDecay = wd)
          OptimizerConfig("adamw", L1 = l1, L2 = l2, WeightDecay = wd) ]
    testList "vectorised updates" [
        testList "vectorised update equals the float64 reference (37 elements: whole vectors and a tail)" [
            for config in settings do
                let name = config.Name
                test $"{config}" {
                    let rng = Random 7
                    let w0, b0 = randomVector rng 37, randomVector rng 5
                    let steps = 20
                    let gw = Array.init steps (fun _ -> randomVector rng 37)
                    let gb = Array.init steps (fun _ -> randomVector rng 5)
                    let lrs = Array.init steps (fun k -> 0.01 + 0.002 * float k)
                    let w, b = param "w" w0 true, param "b" b0 false
                    let opt = Optimizers.Create(config, [| w; b |])
                    for k in 0 .. steps - 1 do
                        setGrad w gw.[k]
                        setGrad b gb.[k]
                        opt.Step(float32 lrs.[k])
                    expectClose 2e-5 (reference name config true w0 gw lrs) (valuesOf w) "weight"
                    expectClose 2e-5 (reference name config false b0 gb lrs) (valuesOf b) "bias"
                }
        ]
        // Large parameters are cut into chunks for the kernel threads; the cut must not show.
        testSequencedGroup TestData.kernelSettings <| testList "a parameter cut into chunks (200,003 elements) updates with the same bits on any thread count" [
            for config in settings do
                test $"{config}" {
                    let n, steps = 200_003, 3
                    let rng = Random 11
                    let w0 = randomVector rng n
                    let grads = Array.init steps (fun _ -> randomVector rng n)
                    let run threads =
                        let saved = KernelThreads.MaxThreads
                        KernelThreads.MaxThreads <- threads
                        try
                            let w = param "w" w0 true
                            let opt = Optimizers.Create(config, [| w |])
                            for k in 0 .. steps - 1 do
                                setGrad w grads.[k]
                                opt.Step(0.01f)
                            bitsOf (valuesOf w)
                        finally KernelThreads.MaxThreads <- saved
                    let serial = run 1
                    for threads in [ 2; 3; 5 ] do
                        Expect.sequenceEqual (run threads) serial $"{threads} threads against one"
                }
        ]
    ]

// ------------------------------------------------------------------ minimisation

/// f(p) = Σ aᵢ (pᵢ - cᵢ)² / 2 with curvatures 1..10.
let private quadraticGrad (c: float32[]) (a: float32[]) (p: Parameter) =
    let v = p.Value.Span
    let g = p.Grad.Span
    for i in 0 .. c.Length - 1 do g.[i] <- a.[i] * (v.[i] - c.[i])

let private rosenbrockGrad (p: Parameter) =
    // (1 - x)² + 10 (y - x²)²
    let x, y = float p.Value.[0], float p.Value.[1]
    p.Grad.[0] <- float32 (-2.0 * (1.0 - x) - 40.0 * x * (y - x * x))
    p.Grad.[1] <- float32 (20.0 * (y - x * x))

let private minimiseTests =
    // name, config tweak, learning rate, steps: each driven by a cosine schedule to 0.
    let noDecay = Nullable 0f
    let settings =
        [ OptimizerConfig("sgd"), 0.1f, 300
          OptimizerConfig("momentum"), 0.02f, 500
          OptimizerConfig("nesterov"), 0.02f, 500
          OptimizerConfig("adagrad"), 0.5f, 1500
          OptimizerConfig("rmsprop"), 0.01f, 1500
          OptimizerConfig("adam"), 0.05f, 1500
          OptimizerConfig("adamw", WeightDecay = noDecay), 0.05f, 1500 ]
    let rosenbrock =
        [ OptimizerConfig("momentum"), 0.002f, 4000
          OptimizerConfig("nesterov"), 0.002f, 4000
          OptimizerConfig("adagrad"), 0.3f, 4000
          OptimizerConfig("rmsprop"), 0.01f, 4000
          OptimizerConfig("adam"), 0.02f, 4000
          OptimizerConfig("adamw", WeightDecay = noDecay), 0.02f, 4000 ]
    testList "minimise" [
        for config, lr, steps in settings do
            let name = config.Name
            test $"{name} solves an ill-conditioned quadratic" {
                let n = 37
                let c = Array.init n (fun i -> float32 (sin (float i)))
                let a = Array.init n (fun i -> 1f + 9f * float32 i / float32 (n - 1))
                let p = param "w" (Array.zeroCreate n) true
                let opt = create config [| p |]
                let schedule = CosineSchedule(lr, 0f, int64 steps)
                for _ in 1..steps do
                    quadraticGrad c a p
                    opt.Step schedule |> ignore
                expectClose 0.01 (Array.map float c) (valuesOf p) name
            }
        for config, lr, steps in rosenbrock do
            let name = config.Name
            test $"{name} finds the Rosenbrock valley's minimum" {
                let p = param "xy" [| -1f; 1f |] true
                let opt = create config [| p |]
                let schedule = CosineSchedule(lr, 0f, int64 steps)
                for _ in 1..steps do
                    rosenbrockGrad p
                    opt.Step schedule |> ignore
                expectClose 0.02 [ 1.0; 1.0 ] (valuesOf p) name
            }
        test "L2 moves the minimum of (p - c)²/2 to c / (1 + l2)" {
            let c = [| 2f; -1f; 0.5f |]
            let w = param "w" (Array.zeroCreate 3) true
            let b = param "b" (Array.zeroCreate 3) false
            let opt = create (OptimizerConfig("sgd", L2 = 1f)) [| w; b |]
            for _ in 1..300 do
                quadraticGrad c [| 1f; 1f; 1f |] w
                quadraticGrad c [| 1f; 1f; 1f |] b
                opt.Step 0.1f
            expectClose 1e-5 [ 1.0; -0.5; 0.25 ] (valuesOf w) "weight"
            expectClose 1e-5 [ 2.0; -1.0; 0.5 ] (valuesOf b) "bias"
        }
        test "L1 soft-thresholds: small targets go to 0, large ones shrink by l1" {
            let c = [| 0.3f; -0.2f; 2f; -3f |]
            let w = param "w" (Array.zeroCreate 4) true
            let opt = create (OptimizerConfig("sgd", L1 = 0.5f)) [| w |]
            let schedule = CosineSchedule(0.05f, 0f, 3000L)
            for _ in 1..3000 do
                quadraticGrad c [| 1f; 1f; 1f; 1f |] w
                opt.Step schedule |> ignore
            expectClose 0.005 [ 0.0; 0.0; 1.5; -2.5 ] (valuesOf w) "weight"
        }
    ]

// ------------------------------------------------------------------ state, resume, allocation

let private makeParams () =
    let rng = Random 11
    [| param "conv.weight" (randomVector rng 45) true
       param "conv.bias" (randomVector rng 3) false
       param "dense.weight" (randomVector rng 16) true |]

let private fillGrads (ps: Parameter[]) step =
    for p in ps do
        let g = p.Grad.Span
        let v = p.Value.Span
        for i in 0 .. g.Length - 1 do g.[i] <- v.[i] * 0.5f + sin (float32 (step * 31 + i)) * 0.1f

let private stateTests =
    testList "state" [
        for name in allNames do
            test $"{name}: export, save as safetensors, load, continue bit-identically" {
                let config = OptimizerConfig(name, L1 = 0.001f, L2 = 0.01f)
                let schedule = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, 12L, 4)
                let ps = makeParams ()
                let opt = Optimizers.Create(config, ps)
                for k in 0..4 do
                    fillGrads ps k
                    opt.Step schedule |> ignore
                // checkpoint: parameters and optimizer state in one safetensors file
                let entries =
                    [| for p in ps -> struct (p.Name, p.Value)
                       for struct (n, t) in opt.State -> struct ("optim." + n, t) |]
                let bytes = SafeTensors.Serialize(entries, readOnlyDict [ "step", string opt.StepCount ])
                for k in 5..11 do
                    fillGrads ps k
                    opt.Step schedule |> ignore

                let file = SafeTensors.Parse(bytes, "checkpoint")
                let ps2 = makeParams ()
                for p in ps2 do file.Get(p.Name).Span.CopyTo(p.Value.Span)
                let resumed = Optimizers.Create(config, ps2)
                let state =
                    [ for KeyValue(n, t) in file.Tensors do
                        if n.StartsWith "optim." then struct (n.Substring 6, t) ]
                resumed.LoadState(state, int64 (file.GetMetadata "step"))
                Expect.equal resumed.StepCount 5L "step count restored"
                for k in 5..11 do
                    fillGrads ps2 k
                    resumed.Step schedule |> ignore
                for p, q in Array.zip ps ps2 do
                    Expect.equal (bitsOf (valuesOf q)) (bitsOf (valuesOf p)) $"{name} {p.Name}"
            }
        test "state names follow PyTorch's buffers" {
            let names name =
                let opt = create (OptimizerConfig(name)) [| param "w" [| 1f |] true |]
                opt.StateNames |> List.ofSeq
            Expect.equal (names "sgd") [] "sgd"
            Expect.equal (names "momentum") [ "w.momentum_buffer" ] "momentum"
            Expect.equal (names "nesterov") [ "w.momentum_buffer" ] "nesterov"
            Expect.equal (names "adagrad") [ "w.sum" ] "adagrad"
            Expect.equal (names "rmsprop") [ "w.square_avg" ] "rmsprop"
            Expect.equal (names "adam") [ "w.exp_avg"; "w.exp_avg_sq" ] "adam"
            Expect.equal (names "adamw") [ "w.exp_avg"; "w.exp_avg_sq" ] "adamw"
            let rmsMomentum = create (OptimizerConfig("rmsprop", Momentum = Nullable 0.5f)) [| param "w" [| 1f |] true |]
            Expect.equal (List.ofSeq rmsMomentum.StateNames) [ "w.square_avg"; "w.momentum_buffer" ] "rmsprop with momentum"
        }
        test "LoadState rejects missing, unexpected and mis-shaped state, and leaves the optimizer alone" {
            let ps = makeParams ()
            let adam = Adam(ps)
            fillGrads ps 0
            adam.Step 0.01f
            let good = [ for struct (n, t) in adam.State -> struct (n, t.Clone()) ]
            let fresh = Adam(makeParams ())
            expectMessage (fun () -> fresh.LoadState(List.tail good, 1L)) [ "'conv.weight.exp_avg' is missing" ] "missing"
            expectMessage (fun () -> fresh.LoadState(good @ [ struct ("x.exp_avg", Tensor(1)) ], 1L))
                [ "'x.exp_avg' is not state of this adam optimizer" ] "unexpected"
            let wrongShape = good |> List.map (fun struct (n, t) -> if n = "conv.bias.exp_avg" then struct (n, Tensor(4)) else struct (n, t))
            expectMessage (fun () -> fresh.LoadState(wrongShape, 1L)) [ "'conv.bias.exp_avg' has shape [4], the parameter [3]" ] "shape"
            expectMessage (fun () -> fresh.LoadState(good, -1L)) [ "negative" ] "negative step"
            let momentum = MomentumSgd(makeParams ())
            expectMessage (fun () -> momentum.LoadState(good, 1L)) [ "is not state of this momentum optimizer"; "is missing" ] "other kind"
            Expect.equal fresh.StepCount 0L "step count untouched"
            for struct (_, t) in fresh.State do Expect.isTrue (t.Span.ToArray() |> Array.forall ((=) 0f)) "state untouched"
            fresh.LoadState(good, 1L)
            Expect.equal fresh.StepCount 1L "good state loads"
        }
        test "duplicate parameter names are refused (state is keyed by name) unless renamed" {
            let adam = Adam([| param "w" [| 1f |] true; param "w" [| 2f |] true |])
            Expect.throwsT<InvalidOperationException> (fun () -> adam.State |> Seq.toList |> ignore) "dup"
            adam.NameParameters [| "0.w"; "1.w" |]
            Expect.equal (adam.StateNames |> Seq.toList) [ "0.w.exp_avg"; "1.w.exp_avg"; "0.w.exp_avg_sq"; "1.w.exp_avg_sq" ] "renamed"
        }
        testSequencedGroup TestData.kernelSettings <| test "no allocation after the first step" {
            for name in allNames do
                let ps = makeParams ()
                let opt = create (OptimizerConfig(name, L1 = 0.001f, L2 = 0.01f)) ps
                let schedule = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, 1000L, 10)
                fillGrads ps 0
                let steps () =
                    for _ in 1..50 do
                        opt.Step schedule |> ignore
                        opt.Step 0.001f
                // the first round also lets the JIT settle this loop (tiering, on-stack replacement)
                steps ()
                let before = GC.GetAllocatedBytesForCurrentThread()
                steps ()
                let allocated = GC.GetAllocatedBytesForCurrentThread() - before
                Expect.equal allocated 0L $"{name} allocated {allocated} bytes in 100 steps"
        }
        test "one-cycle drives momentum and Adam's beta1" {
            let schedule = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, 100L, 10)
            let nesterov = Nesterov(makeParams ())
            let adam = Adam(makeParams ())
            for _ in 0..29 do
                nesterov.Step schedule |> ignore
                adam.Step schedule |> ignore
            // the 30th step (index 29) is the peak, where momentum is at its base 0.85
            Expect.floatClose Accuracy.high (float nesterov.Momentum) 0.85 "nesterov momentum"
            Expect.floatClose Accuracy.high (float adam.Beta1) 0.85 "adam beta1"
        }
        test "Step refuses a negative or non-finite learning rate" {
            let opt = Sgd(makeParams ())
            for lr in [ -0.1f; nanf; infinityf ] do
                Expect.throwsT<ArgumentOutOfRangeException> (fun () -> opt.Step lr) $"lr {lr}"
        }
    ]

// ------------------------------------------------------------------ config and factory

let private configTests =
    testList "config" [
        test "the factory builds each optimizer with PyTorch's defaults" {
            let ps = [| param "w" [| 1f |] true |]
            let check name (f: Optimizer -> unit) = f (create (OptimizerConfig(name)) ps)
            check "sgd" (fun o -> Expect.isTrue (o :? Sgd) "sgd")
            check "momentum" (fun o -> Expect.equal (o :?> MomentumSgd).Momentum 0.9f "momentum")
            check "Nesterov" (fun o -> Expect.equal (o :?> Nesterov).Momentum 0.9f "nesterov, any case")
            check "adagrad" (fun o -> Expect.equal (o :?> AdaGrad).Eps 1e-10f "adagrad eps")
            check "rmsprop" (fun o ->
                let r = o :?> RmsProp
                Expect.equal (r.Alpha, r.Eps, r.Momentum) (0.99f, 1e-8f, 0f) "rmsprop")
            check "adam" (fun o ->
                let a = o :?> Adam
                Expect.equal (a.Beta1, a.Beta2, a.Eps, a.Regularization.WeightDecay) (0.9f, 0.999f, 1e-8f, 0f) "adam")
            check "AdamW" (fun o ->
                Expect.isTrue (o :? AdamW) "adamw type"
                Expect.equal o.Regularization.WeightDecay 0.01f "adamw decay")
            let r = (create (OptimizerConfig("rmsprop", Beta2 = Nullable 0.9f)) ps :?> RmsProp)
            Expect.equal r.Alpha 0.9f "rmsprop alpha comes from beta2"
        }
        test "an unknown name lists the valid ones" {
            expectMessage (fun () -> create (OptimizerConfig("adamax")) [||])
                [ "unknown optimizer 'adamax'"; "sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw" ] "unknown"
        }
        test "a setting the optimizer does not use is an error" {
            expectMessage (fun () -> create (OptimizerConfig("sgd", Momentum = Nullable 0.9f)) [||])
                [ "optimizer 'sgd' has no momentum setting" ] "sgd momentum"
            expectMessage (fun () -> create (OptimizerConfig("nesterov", Beta1 = Nullable 0.9f)) [||])
                [ "optimizer 'nesterov' has no beta1 setting"; "momentum" ] "nesterov beta1"
        }
        test "values out of range are errors" {
            for config, fragment in
                [ OptimizerConfig("momentum", Momentum = Nullable 1f), "momentum 1 must be in [0, 1)"
                  OptimizerConfig("adam", Eps = Nullable 0f), "eps 0 must be positive"
                  OptimizerConfig("sgd", L2 = -1f), "l2 -1 must be non-negative"
                  OptimizerConfig("sgd", WeightDecay = Nullable nanf), "weightDecay NaN" ] do
                expectMessage (fun () -> create config [||]) [ fragment ] fragment
            expectMessage (fun () -> create (OptimizerConfig("nesterov", Momentum = Nullable 0f)) [||]) [ "above 0 for nesterov" ] "nesterov 0"
        }
        test "JSON round trip, defaults, and unknown fields" {
            let config = OptimizerConfig("adamw", Beta1 = Nullable 0.8f, L2 = 0.001f)
            let json = JsonSerializer.Serialize config
            Expect.equal json """{"Name":"adamw","Beta1":0.8,"L1":0,"L2":0.001}""" "compact JSON"
            Expect.equal (JsonSerializer.Deserialize<OptimizerConfig> json) config "round trip"
            let camel = JsonSerializerOptions(JsonSerializerDefaults.Web)
            Expect.equal (JsonSerializer.Deserialize<OptimizerConfig>(JsonSerializer.Serialize(config, camel), camel)) config "camelCase"
            Expect.equal (JsonSerializer.Deserialize<OptimizerConfig> """{"Name":"adam"}""") (OptimizerConfig("adam")) "defaults"
            Expect.throwsT<JsonException> (fun () -> JsonSerializer.Deserialize<OptimizerConfig> """{"Name":"adam","Momentun":0.9}""" |> ignore) "typo"
            let resolved = config.Resolve()
            Expect.equal resolved (OptimizerConfig("adamw", Nullable(), Nullable 0.8f, Nullable 0.999f, Nullable 1e-8f, Nullable 0.01f, 0f, 0.001f)) "resolved"
        }
    ]

// ------------------------------------------------------------------ schedules

let private rateAt (s: LearningRateSchedule) step = float (s.Rate step)

let private scheduleTests =
    let close expected actual what = Expect.floatClose { absolute = 1e-9; relative = 1e-6 } actual expected what
    testList "schedules" [
        test "constant" {
            let s = Schedules.Create(ScheduleConfig(), 0.01f, 100L, 10)
            for step in [ 0L; 50L; 99L; 500L ] do close 0.01 (rateAt s step) $"step {step}"
        }
        test "step decay: × gamma at each boundary (PyTorch StepLR)" {
            let s = Schedules.Create(ScheduleConfig("step", StepEpochs = Nullable 1f, Gamma = Nullable 0.5f), 0.05f, 30L, 10)
            // PyTorch 1.13: 0.05, 0.05, 0.025, 0.0125
            for step, expected in [ 0L, 0.05; 9L, 0.05; 10L, 0.025; 19L, 0.025; 20L, 0.0125; 29L, 0.0125 ] do
                close expected (rateAt s step) $"step {step}"
            let fractional = Schedules.Create(ScheduleConfig("step", StepEpochs = Nullable 0.5f), 0.1f, 20L, 10)
            close 0.01 (rateAt fractional 5L) "half-epoch steps, default gamma 0.1"
        }
        test "step decay defaults to two decays, at a third and two thirds of any run" {
            for epochs in [ 1; 3; 9 ] do
                let total = int64 (epochs * 100)
                let s = Schedules.Create(ScheduleConfig("step"), 0.1f, total, 100)
                let third = (total + 2L) / 3L
                close 0.1 (rateAt s (third - 1L)) $"{epochs} epochs: before"
                close 0.01 (rateAt s third) $"{epochs} epochs: first decay"
                close 0.001 (rateAt s (2L * third)) $"{epochs} epochs: second decay"
                close 0.001 (rateAt s (total - 1L)) $"{epochs} epochs: end"
        }
        test "cosine: peak, midpoint, last step, floor (PyTorch CosineAnnealingLR)" {
            let s = Schedules.Create(ScheduleConfig("cosine", Floor = Nullable 0.1f), 0.05f, 100L, 10)
            // PyTorch 1.13 with eta_min 0.005: 0.05, 0.0434099026, 0.0275, 0.00501110239
            close 0.05 (rateAt s 0L) "start"
            close 0.0434099026 (rateAt s 25L) "quarter"
            close 0.0275 (rateAt s 50L) "midpoint = (peak + floor) / 2"
            close 0.00501110239 (rateAt s 99L) "last step"
            close 0.005 (rateAt s 100L) "floor after the run"
        }
        test "linear warm-up reaches the peak where the next schedule starts" {
            let s = Schedules.Create(ScheduleConfig(WarmupFraction = Nullable 0.1f), 0.05f, 100L, 10)
            close (0.05 / 11.0) (rateAt s 0L) "first step"
            close (0.05 * 5.0 / 11.0) (rateAt s 4L) "linear"
            close (0.05 * 10.0 / 11.0) (rateAt s 9L) "last warm-up step"
            close 0.05 (rateAt s 10L) "warm-up end"
            close 0.05 (rateAt s 99L) "constant after"
            let c = Schedules.Create(ScheduleConfig("cosine", WarmupFraction = Nullable 0.1f), 0.05f, 100L, 10)
            close 0.05 (rateAt c 10L) "cosine starts at the peak"
            close 0.025 (rateAt c 55L) "cosine midpoint of the remaining 90 steps"
            Expect.equal c.TotalSteps 100L "total steps"
        }
        test "one-cycle matches PyTorch OneCycleLR (100 steps: integral peak step)" {
            let s = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, 100L, 10)
            // PyTorch 1.13, max_lr 0.05, pct_start 0.3: (step, lr, momentum)
            for step, lr, momentum in
                [ 0L, 0.002, 0.95; 10L, 0.0147581974, 0.923420422; 29L, 0.05, 0.85
                  30L, 0.0499748268, 0.850050347; 64L, 0.0250001, 0.9; 99L, 2e-07, 0.95 ] do
                close lr (rateAt s step) $"lr at {step}"
                close momentum (float (s.Momentum step).Value) $"momentum at {step}"
            close 2e-7 (rateAt s 1000L) "holds the final value"
        }
        test "one-cycle matches PyTorch OneCycleLR (3 epochs of 938 steps: peak between steps)" {
            let s = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, 2814L, 938)
            for step, lr, momentum in
                [ 0L, 0.002, 0.95; 843L, 0.0499999933, 0.850000014; 844L, 0.0499999797, 0.850000041
                  1500L, 0.0374931434, 0.875013813; 2813L, 2e-07, 0.95 ] do
                close lr (rateAt s step) $"lr at {step}"
                close momentum (float (s.Momentum step).Value) $"momentum at {step}"
        }
        test "one-cycle settings" {
            let s = Schedules.Create(ScheduleConfig("one-cycle", PctStart = Nullable 0.25f, DivFactor = Nullable 10f,
                                                    FinalDivFactor = Nullable 100f, CycleMomentum = Nullable false),
                                     0.1f, 100L, 10)
            close 0.01 (rateAt s 0L) "initial = peak / div"
            close 0.1 (rateAt s 24L) "peak at pct_start"
            close 1e-4 (rateAt s 99L) "final = initial / final div"
            Expect.isFalse (s.Momentum 10L).HasValue "no momentum cycling"
        }
        test "schedules stretch with the run" {
            for total in [ 938L; 2814L; 9380L ] do
                let s = Schedules.Create(ScheduleConfig("onecycle"), 0.05f, total, 938)
                let peakStep = int64 (0.3 * float total) - 1L
                Expect.isGreaterThan (rateAt s peakStep) 0.0499 $"{total}: peak near 30%%"
                close 2e-7 (rateAt s (total - 1L)) $"{total}: final"
        }
        test "config errors are clear" {
            let make c = fun () -> Schedules.Create(c, 0.1f, 100L, 10)
            expectMessage (make (ScheduleConfig("exp"))) [ "unknown schedule 'exp'"; "constant, step, cosine, onecycle" ] "unknown"
            expectMessage (make (ScheduleConfig("onecycle", WarmupFraction = Nullable 0.1f))) [ "has its own warm-up" ] "warm-up"
            expectMessage (make (ScheduleConfig("cosine", Gamma = Nullable 0.5f))) [ "schedule 'cosine' has no gamma setting" ] "gamma"
            expectMessage (make (ScheduleConfig("onecycle", PctStart = Nullable 1.5f))) [ "pctStart 1.5 must be in (0, 1)" ] "pct"
            expectMessage (make (ScheduleConfig("constant", WarmupFraction = Nullable 1f))) [ "warmupFraction 1" ] "warmup 1"
            expectMessage (make (ScheduleConfig("onecycle", CycleMomentum = Nullable false, BaseMomentum = Nullable 0.8f)))
                [ "need cycleMomentum" ] "momentum without cycling"
            expectMessage (fun () -> Schedules.Create(ScheduleConfig(), 0f, 100L, 10)) [ "learning rate 0" ] "zero lr"
            expectMessage (fun () -> Schedules.Create(ScheduleConfig(), 0.1f, 0L, 10)) [ "at least one step" ] "no steps"
        }
        test "JSON round trip" {
            let config = ScheduleConfig("onecycle", PctStart = Nullable 0.25f)
            let json = JsonSerializer.Serialize config
            Expect.equal json """{"Name":"onecycle","PctStart":0.25}""" "compact JSON"
            Expect.equal (JsonSerializer.Deserialize<ScheduleConfig> json) config "round trip"
            Expect.throwsT<JsonException> (fun () -> JsonSerializer.Deserialize<ScheduleConfig> """{"Name":"step","Gama":0.5}""" |> ignore) "typo"
        }
    ]

[<Tests>]
let tests =
    testList "Optimizers" [ firstStepTests; referenceTests; minimiseTests; stateTests; configTests; scheduleTests ]
