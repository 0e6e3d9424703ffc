/// Layer forward values by hand, the loss, dropout and batch-norm behaviour, models and configs,
/// the generator, and the allocation-free training step.
module Mnist.Tests.LayerTests

open System
open Expecto
open Mnist.Core
open Mnist.Core.GradCheck
open Mnist.Core.Layers
open Mnist.Core.Losses
open Mnist.Core.Models
open Mnist.Core.Tensors
open Mnist.Tests.LayerHelpers

let private labelsOf (xs: int[]) = ReadOnlySpan<int>(xs)

let private rngTests =
    testList "rng" [
        test "Philox4x32-10 gives Random123's known-answer vectors" {
            let check (c: uint32[]) (k: uint32[]) (expected: uint32[]) =
                let b = Philox.Block(c[0], c[1], c[2], c[3], k[0], k[1])
                Expect.equal [| b.X0; b.X1; b.X2; b.X3 |] expected $"counter %A{c}, key %A{k}"
            check [| 0u; 0u; 0u; 0u |] [| 0u; 0u |] [| 0x6627e8d5u; 0xe169c58du; 0xbc57ac4cu; 0x9b00dbd8u |]
            check [| 0xffffffffu; 0xffffffffu; 0xffffffffu; 0xffffffffu |] [| 0xffffffffu; 0xffffffffu |]
                [| 0x408f276du; 0x41c83b0eu; 0xa20bc7c6u; 0x6d5451fdu |]
            check [| 0x243f6a88u; 0x85a308d3u; 0x13198a2eu; 0x03707344u |] [| 0xa4093822u; 0x299f31d0u |]
                [| 0xd16cfe09u; 0x94fdccebu; 0x5001e420u; 0x24126ea1u |]
        }

        test "Philox words: element i is lane i%4 of block i/4, and units are uniform in [0, 1)" {
            let key, stream = 0x0123456789abcdefUL, 7UL
            let block = Philox.Block(2u, 0u, 7u, 0u, 0x89abcdefu, 0x01234567u)
            Expect.equal (Philox.Word(key, stream, 9UL)) block.X1 "index 9 = block 2, lane 1"
            let units = [| for i in 0UL .. 99_999UL -> Philox.ToUnit(Philox.Word(key, stream, i)) |]
            Expect.isTrue (units |> Array.forall (fun u -> u >= 0.0f && u < 1.0f)) "range"
            let mean = units |> Array.averageBy float
            Expect.floatClose Accuracy.low mean 0.5 "mean of 100,000 draws"
            let buckets = units |> Array.countBy (fun u -> int (u * 10.0f)) |> Array.map snd
            Expect.isTrue (buckets |> Array.forall (fun n -> abs (n - 10_000) < 500)) $"ten equal buckets: %A{buckets}"
        }

        test "xoshiro256** stream matches an independent implementation" {
            let rng = Rng(42UL)
            let values = [ for _ in 1 .. 3 -> rng.NextULong() ]
            Expect.equal values [ 0x15780b2e0c2ec716UL; 0x6104d9866d113a7eUL; 0xae17533239e499a1UL ] "seed 42"
            let zero = Rng(0UL)
            Expect.equal (zero.NextULong()) 0x99ec5f36cb75f2b4UL "seed 0"
        }
        test "floats, bounded ints and gaussians match the reference values" {
            let f = Rng(42UL)
            Expect.equal [ for _ in 1 .. 3 -> f.NextFloat() ] [ 0.08386296033859253f; 0.37898021936416626f; 0.6800433993339539f ] "floats"
            let i = Rng(7UL)
            Expect.equal [ for _ in 1 .. 12 -> i.NextInt 10 ] [ 7; 2; 8; 9; 9; 8; 0; 1; 4; 1; 5; 7 ] "ints below 10"
            let j = Rng(7UL)
            Expect.equal [ for _ in 1 .. 4 -> j.NextInt 1000003 ] [ 700578; 278752; 839629; 981100 ] "ints below 1000003"
            let g = Rng(2024UL)
            let gauss = [| for _ in 1 .. 4 -> g.NextGaussian() |]
            expectClose 1e-6f gauss [| 0.78777051f; -0.73444885f; -0.63553286f; -1.46151531f |] "gaussians"
        }
        test "same seed, same stream; state can be saved and restored" {
            let a, b = Rng(5UL), Rng(5UL)
            let xs = [ for _ in 1 .. 100 -> a.NextGaussian() ]
            Expect.equal [ for _ in 1 .. 100 -> b.NextGaussian() ] xs "same seed"
            let saved = a.State
            let next = [ for _ in 1 .. 5 -> a.NextGaussian() ]
            a.State <- saved
            Expect.equal [ for _ in 1 .. 5 -> a.NextGaussian() ] next "restored"
            Expect.notEqual (Rng(6UL).NextULong()) (Rng(5UL).NextULong()) "different seeds differ"
        }
        test "distributions look right" {
            let rng = Rng(1UL)
            let n = 200000
            let floats = Array.init n (fun _ -> rng.NextFloat())
            Expect.isTrue (floats |> Array.forall (fun v -> v >= 0.0f && v < 1.0f)) "floats in [0, 1)"
            Expect.floatClose { absolute = 0.005; relative = 0.0 } (floats |> Array.averageBy float) 0.5 "uniform mean"
            let gauss = Array.init n (fun _ -> float (rng.NextGaussian()))
            let mean = Array.average gauss
            let var = gauss |> Array.averageBy (fun v -> (v - mean) ** 2.0)
            Expect.floatClose { absolute = 0.01; relative = 0.0 } mean 0.0 "gaussian mean"
            Expect.floatClose { absolute = 0.01; relative = 0.0 } var 1.0 "gaussian variance"
            let counts = Array.zeroCreate 7
            for _ in 1 .. 70000 do
                let bucket = rng.NextInt 7
                counts.[bucket] <- counts.[bucket] + 1
            Expect.equal (Array.sum counts) 70000 "every draw counted once"
            for c in counts do Expect.isTrue (abs (c - 10000) < 500) (sprintf "bucket count %d" c)
        }
        test "portable log agrees with Math.Log" {
            for s in [ 1e-300; 1e-10; 0.001; 0.3; 0.70710678; 0.9999; 1.0; 1.5; 2.0; 1234.5 ] do
                let expected = Math.Log s
                Expect.floatClose { absolute = 1e-15; relative = 1e-15 } (Rng.PortableLog s) expected (sprintf "ln %g" s)
        }
        test "shuffle is a seeded permutation" {
            let a = Array.init 50 id
            let b = Array.init 50 id
            Rng(3UL).Shuffle(a.AsSpan())
            Rng(3UL).Shuffle(b.AsSpan())
            Expect.equal a b "same seed, same order"
            Expect.notEqual a (Array.init 50 id) "shuffled"
            Expect.equal (Array.sort a) (Array.init 50 id) "a permutation"
        }
    ]

let private forwardTests =
    testList "forward values" [
        test "conv2d by hand, stride 1 and stride 2 with padding" {
            let x = tensorOf [| 1; 1; 3; 3 |] [| 1.0f .. 9.0f |]
            let conv = Conv2D(1, 1, 2)
            tensorOf [| 1; 1; 2; 2 |] [| 1.0f; 2.0f; 3.0f; 4.0f |] |> toArray |> fun w -> w.AsSpan().CopyTo(conv.Weight.Value.Span)
            conv.Bias.Value.[0] <- 0.5f
            expectClose 1e-6f (conv.Forward(x, false) |> toArray) [| 37.5f; 47.5f; 67.5f; 77.5f |] "stride 1"
            let padded = Conv2D(1, 1, 2, 2, 1)
            conv.Weight.Value.Span.CopyTo(padded.Weight.Value.Span)
            padded.Bias.Value.[0] <- 0.5f
            let y = padded.Forward(x, false)
            Expect.equal (y.Shape.ToArray()) [| 1; 1; 2; 2 |] "shape"
            expectClose 1e-6f (toArray y) [| 4.5f; 18.5f; 36.5f; 77.5f |] "stride 2 pad 1"
        }
        test "dense by hand (PyTorch weight layout)" {
            let dense = Dense(3, 2)
            [| 1.0f; 2.0f; 3.0f; 4.0f; 5.0f; 6.0f |].AsSpan().CopyTo(dense.Weight.Value.Span)
            [| 0.5f; -1.0f |].AsSpan().CopyTo(dense.Bias.Value.Span)
            let y = dense.Forward(tensorOf [| 2; 3 |] [| 1.0f; 0.0f; -1.0f; 2.0f; 1.0f; 0.0f |], false)
            expectClose 1e-6f (toArray y) [| -1.5f; -3.0f; 4.5f; 12.0f |] "y"
        }
        test "max and average pooling by hand" {
            let x = tensorOf [| 1; 1; 4; 4 |] [| 1.0f; 5.0f; 2.0f; 0.0f;
                                                3.0f; 4.0f; 8.0f; 6.0f;
                                                -1.0f; -2.0f; 0.0f; 0.0f;
                                                -3.0f; -4.0f; 9.0f; 1.0f |]
            expectClose 0.0f (MaxPool2D(2).Forward(x, false) |> toArray) [| 5.0f; 8.0f; -1.0f; 9.0f |] "max"
            expectClose 1e-6f (AvgPool2D(2).Forward(x, false) |> toArray) [| 3.25f; 4.0f; -2.5f; 2.5f |] "avg"
            let max = MaxPool2D(2)
            max.Forward(x, true) |> ignore
            let dx = max.Backward(tensorOf [| 1; 1; 2; 2 |] [| 1.0f; 2.0f; 3.0f; 4.0f |]) |> toArray
            Expect.equal dx [| 0.0f; 1.0f; 0.0f; 0.0f; 0.0f; 0.0f; 2.0f; 0.0f; 3.0f; 0.0f; 0.0f; 0.0f; 0.0f; 0.0f; 4.0f; 0.0f |] "max routes to winners"
        }
        test "activations at known points" {
            let x = tensorOf [| 1; 4 |] [| -2.0f; -1.0f; 0.5f; 1.0f |]
            let run name = (Activations.Create(name, slope = 0.1f, alpha = 1.0f)).Forward(x, false) |> toArray
            expectClose 1e-6f (run "relu") [| 0.0f; 0.0f; 0.5f; 1.0f |] "relu"
            expectClose 1e-6f (run "leaky_relu") [| -0.2f; -0.1f; 0.5f; 1.0f |] "leakyrelu"
            expectClose 1e-6f (run "elu") [| -0.86466472f; -0.63212056f; 0.5f; 1.0f |] "elu"
            expectClose 1e-6f (run "SiLU") [| -0.23840584f; -0.26894142f; 0.31122967f; 0.73105858f |] "swish"
            expectClose 1e-6f (run "sigmoid") [| 0.11920292f; 0.26894142f; 0.62245933f; 0.73105858f |] "sigmoid"
            expectClose 1e-6f (run "tanh") [| -0.96402758f; -0.76159416f; 0.46211716f; 0.76159416f |] "tanh"
            let extreme = tensorOf [| 1; 2 |] [| -100.0f; 100.0f |]
            let s = Sigmoid().Forward(extreme, false) |> toArray
            Expect.isTrue (s.[0] >= 0.0f && s.[0] < 1e-40f && s.[1] = 1.0f) (sprintf "sigmoid saturates without NaN: %A" s)
        }
        test "flatten is a view and restores the shape on the way back" {
            let x = RandomInputs.Gaussian(1UL, 0.0f, 2, 3, 2, 2)
            let flat = Flatten()
            let y = flat.Forward(x, true)
            Expect.equal (y.Shape.ToArray()) [| 2; 12 |] "flat shape"
            Expect.isTrue (obj.ReferenceEquals(y.Storage, x.Storage)) "no copy"
            let dx = flat.Backward(y)
            Expect.equal (dx.Shape.ToArray()) [| 2; 3; 2; 2 |] "gradient shape"
        }
        test "a smaller last batch reuses the buffers and matches the full batch" {
            let conv = RandomInputs.RandomizeParameters(Conv2D(1, 4, 3, 1, 1), 1UL, 0.5f)
            let full = RandomInputs.Gaussian(2UL, 0.0f, 8, 1, 6, 6)
            let y8 = conv.Forward(full, false)
            let storage = y8.Storage
            let first8 = toArray y8
            let part = tensorOf [| 3; 1; 6; 6 |] (full.Span.Slice(0, 3 * 36).ToArray())
            let y3 = conv.Forward(part, false)
            Expect.isTrue (obj.ReferenceEquals(y3.Storage, storage)) "same storage"
            Expect.equal (y3.Shape.ToArray()) [| 3; 4; 6; 6 |] "shape follows the batch"
            expectClose 1e-6f (toArray y3) first8.[.. 3 * 4 * 36 - 1] "values"
        }
    ]

let private lossTests =
    testList "loss" [
        test "value, accuracy and gradient by hand" {
            let loss = SoftmaxCrossEntropy()
            let logits = tensorOf [| 2; 3 |] [| 1.0f; 2.0f; 3.0f; 0.0f; 0.0f; 0.0f |]
            let r = loss.Forward(logits, labelsOf [| 2; 1 |])
            let expected = (log (exp 1.0 + exp 2.0 + exp 3.0) - 3.0 + log 3.0) / 2.0
            Expect.floatClose Accuracy.high (float r.MeanLoss) expected "mean loss"
            Expect.equal r.Correct 1 "argmax of row 0 is right, row 1 ties to class 0"
            Expect.equal r.Count 2 "count"
            let g = loss.Backward() |> toArray
            let z = exp 1.0 + exp 2.0 + exp 3.0
            let p = [| exp 1.0 / z; exp 2.0 / z; exp 3.0 / z - 1.0; 1.0 / 3.0; 1.0 / 3.0 - 1.0; 1.0 / 3.0 |]
            expectClose 1e-6f g (p |> Array.map (fun v -> float32 (v / 2.0))) "(softmax - onehot)/N"
        }
        test "stable on huge logits" {
            let loss = SoftmaxCrossEntropy()
            let logits = tensorOf [| 3; 3 |] [| 1e30f; -1e30f; 0.0f; 1e4f; 0.0f; -1e4f; 3e38f; 3e38f; -3e38f |]
            let r = loss.Forward(logits, labelsOf [| 0; 1; 0 |])
            let expected = (0.0 + 1e4 + log 2.0) / 3.0
            Expect.floatClose { absolute = 0.0; relative = 1e-6 } (float r.MeanLoss) expected "finite, exact loss"
            Expect.equal r.Correct 2 "two right"
            let g = loss.Backward() |> toArray
            Expect.isTrue (g |> Array.forall Single.IsFinite) (sprintf "finite gradient %A" g)
            expectClose 1e-6f g [| 0.0f; 0.0f; 0.0f; 1.0f / 3.0f; -1.0f / 3.0f; 0.0f; -1.0f / 6.0f; 1.0f / 6.0f; 0.0f |] "gradient"
            let wrong = loss.Forward(tensorOf [| 1; 2 |] [| 1e30f; -1e30f |], labelsOf [| 1 |])
            Expect.floatClose { absolute = 0.0; relative = 1e-6 } (float wrong.MeanLoss) 2e30 "confidently wrong is large, not NaN"
        }
        test "labels out of range are refused" {
            let loss = SoftmaxCrossEntropy()
            Expect.throwsT<MnistException> (fun () -> loss.Forward(Tensor(2, 10), labelsOf [| 0; 10 |]) |> ignore) "label 10 of 10 classes"
            Expect.throwsT<MnistException> (fun () -> loss.Forward(Tensor(2, 10), labelsOf [| 0 |]) |> ignore) "label count"
        }
    ]

let private dropoutTests =
    testList "dropout" [
        test "drops about p, scales the rest by 1/(1-p), keeps the mean" {
            let layer = Dropout(0.3f, 4UL)
            let x = Tensor(400, 500)
            x.Span.Fill 1.0f
            let y = layer.Forward(x, true) |> toArray
            let zeros = y |> Array.filter (fun v -> v = 0.0f) |> Array.length
            Expect.floatClose { absolute = 0.005; relative = 0.0 } (float zeros / float y.Length) 0.3 "dropped fraction"
            Expect.isTrue (y |> Array.forall (fun v -> v = 0.0f || abs (v - 1.0f / 0.7f) < 1e-6f)) "kept values scaled"
            Expect.floatClose { absolute = 0.01; relative = 0.0 } (y |> Array.averageBy float) 1.0 "mean kept"
            let dy = Tensor(400, 500)
            dy.Span.Fill 2.0f
            let dx = layer.Backward(dy) |> toArray
            Expect.isTrue (Array.forall2 (fun a b -> a = 2.0f * b) dx y) "backward uses the same mask"
        }
        test "identity in evaluation" {
            let layer = Dropout(0.5f, 4UL)
            let x = RandomInputs.Gaussian(3UL, 0.0f, 4, 16)
            Expect.equal (layer.Forward(x, false) |> toArray) (toArray x) "eval"
            Expect.equal (Dropout(0.0f, 1UL).Forward(x, true) |> toArray) (toArray x) "p = 0"
        }
        test "masks are fixed by the seed" {
            let x = RandomInputs.Gaussian(3UL, 0.0f, 4, 64)
            let run (seed: uint64) = Dropout(0.5f, seed).Forward(x, true) |> toArray
            Expect.equal (run 8UL) (run 8UL) "same seed"
            Expect.notEqual (run 8UL) (run 9UL) "other seed"
        }
    ]

let private batchNormTests =
    testList "batchnorm" [
        test "training normalises each channel and moves the running statistics" {
            let bn = BatchNorm2D(2)
            let x = RandomInputs.Gaussian(1UL, 0.0f, 4, 2, 3, 3)
            for i in 0 .. x.Length - 1 do x.[i] <- 3.0f * x.[i] + 5.0f
            let y = bn.Forward(x, true) |> toArray
            for c in 0 .. 1 do
                let xs = [| for n in 0 .. 3 do for i in 0 .. 8 -> x.[(n * 2 + c) * 9 + i] |] |> Array.map float
                let ys = [| for n in 0 .. 3 do for i in 0 .. 8 -> y.[(n * 2 + c) * 9 + i] |] |> Array.map float
                let m = Array.average ys
                Expect.floatClose { absolute = 1e-5; relative = 0.0 } m 0.0 "zero mean"
                Expect.floatClose { absolute = 1e-3; relative = 0.0 } (ys |> Array.averageBy (fun v -> (v - m) ** 2.0)) 1.0 "unit variance"
                let mu = Array.average xs
                let unbiased = (xs |> Array.sumBy (fun v -> (v - mu) ** 2.0)) / float (xs.Length - 1)
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } (float bn.RunningMean.[c]) (0.1 * mu) "running mean"
                Expect.floatClose { absolute = 1e-5; relative = 1e-5 } (float bn.RunningVar.[c]) (0.9 + 0.1 * unbiased) "running var"
            let names = bn.Buffers |> Seq.map (fun struct (n, _) -> n) |> List.ofSeq
            Expect.equal names [ "running_mean"; "running_var" ] "buffers"
            Expect.isTrue (bn.Parameters |> Seq.forall (fun p -> not p.Decay)) "no weight decay on gamma/beta"
        }
        test "evaluation uses the running statistics" {
            let bn = BatchNorm1D(2)
            bn.Forward(tensorOf [| 4; 2 |] [| 1.0f; 10.0f; 2.0f; 20.0f; 3.0f; 30.0f; 4.0f; 40.0f |], true) |> ignore
            bn.Gamma.Value.[0] <- 2.0f
            bn.Beta.Value.[1] <- -1.0f
            let rm = [| 0.25f; 2.5f |]
            let rv = [| 0.9f + 0.1f * (5.0f / 3.0f); 0.9f + 0.1f * (500.0f / 3.0f) |]
            expectClose 1e-6f (toArray bn.RunningMean) rm "running mean"
            expectClose 1e-5f (toArray bn.RunningVar) rv "running var"
            let y = bn.Forward(tensorOf [| 1; 2 |] [| 1.0f; 5.0f |], false) |> toArray
            let expected = [| 2.0f * (1.0f - rm.[0]) / sqrt (rv.[0] + 1e-5f); (5.0f - rm.[1]) / sqrt (rv.[1] + 1e-5f) - 1.0f |]
            expectClose 1e-5f y expected "eval output"
            // A batch of one works in evaluation (it could not in training).
            Expect.throwsT<MnistException> (fun () -> bn.Forward(Tensor(1, 2), true) |> ignore) "batch of one in training"
        }
    ]

let private modelTests =
    testList "models" [
        test "classic summary and parameter counts" {
            let summary = ModelSummary.Of(Presets.Create "classic")
            let counts = summary.Rows |> Seq.map (fun r -> r.Parameters) |> Seq.filter (fun p -> p > 0L) |> List.ofSeq
            Expect.equal counts [ 320L; 18496L; 401536L; 1290L ] "per layer"
            Expect.equal summary.TotalParameters 421642L "total"
            let last = summary.Rows |> Seq.last
            Expect.equal last.OutputShape [| 10 |] "logits"
            let shapes = summary.Rows |> Seq.map (fun r -> Tensor.ShapeText(ReadOnlySpan r.OutputShape)) |> List.ofSeq
            Expect.equal shapes.[2] "[32, 14, 14]" "first pool"
            Expect.equal shapes.[6] "[3136]" "flatten"
            let table = summary.ToTable()
            Expect.stringContains table "Conv2D(1->32, 3x3, stride 1, pad 1)" "conv row"
            Expect.stringContains table "Dense(3136->128)" "dense row"
            Expect.stringContains table "Total parameters: 421,642" "total line"
        }
        test "light and resnet presets, width and activation" {
            Expect.equal (ModelSummary.Of(Presets.Create "light").TotalParameters) 26698L "light: 80 + 1168 + 25120 + 330"
            let half = ModelSummary.Of(Presets.Create("classic", 0.5, "tanh"))
            Expect.equal half.TotalParameters (160L + 4640L + 100416L + 650L) "classic x0.5: 16/32 channels, 64 hidden"
            Expect.stringContains (half.ToTable()) "Tanh" "activation used"
            let tiny = Presets.Create("classic", 0.001)
            Expect.equal (tiny.Layers.[0] :?> Conv2DSpec).Out 1 "at least one channel"
            let resnet = ModelSummary.Of(Presets.Create("resnet", 1.0, "swish"))
            Expect.equal (resnet.Rows |> Seq.last).OutputShape [| 10 |] "resnet logits"
            Expect.isGreaterThan resnet.TotalParameters 50000L "resnet has weights"
            let model = ModelBuilder.Build(Presets.Create "resnet", 1UL)
            let names = model.NamedParameters |> Seq.map (fun struct (n, _) -> n) |> List.ofSeq
            Expect.equal (List.distinct names) names "unique parameter names"
            Expect.contains names "4.shortcut.conv.weight" "projection named"
            let buffers = model.Buffers |> Seq.map (fun struct (n, _) -> n) |> List.ofSeq
            Expect.contains buffers "3.bn1.running_var" "nested buffers named"
        }
        test "unknown preset or activation names the valid ones" {
            let e = Expect.throwsC (fun () -> Presets.Create "vgg" |> ignore) id
            Expect.isTrue (e :? MnistException) "user error"
            Expect.stringContains e.Message "classic, light, resnet" "lists presets"
            let a = Expect.throwsC (fun () -> Presets.Create("classic", 1.0, "gelu") |> ignore) id
            Expect.isTrue (a :? MnistException) "user error"
            Expect.stringContains a.Message "relu, leakyrelu, elu, swish, silu, sigmoid, tanh" "lists activations"
            Expect.throwsT<MnistException> (fun () -> Presets.Create("classic", 0.0) |> ignore) "zero width"
        }
        test "config JSON round trip for every preset" {
            for name in Presets.Names do
                let config = Presets.Create(name, 0.5, "leakyrelu")
                let json = config.ToJson()
                let back = ModelConfig.FromJson json
                Expect.isTrue (config.SameAs back) (name + " round trip")
                Expect.equal (back.ToJson()) json "stable text"
            let json = Presets.Create("classic").ToJson()
            Expect.stringContains json "\"inputShape\"" "camelCase"
            Expect.stringContains json "\"type\": \"conv2d\"" "discriminator"
            Expect.stringContains json "\"numClasses\": 10" "classes"
        }
        test "the classic config's JSON is byte for byte what saved models hold" {
            // The text models trained before the layer kinds moved into a registry carry.
            let saved =
                """{"inputShape":[1,28,28],"numClasses":10,"layers":[{"type":"conv2d","out":32,"kernel":3,"stride":1,"pad":1,"bias":true},"""
                + """{"type":"activation","name":"relu"},{"type":"maxpool","size":2},{"type":"conv2d","out":64,"kernel":3,"stride":1,"pad":1,"bias":true},"""
                + """{"type":"activation","name":"relu"},{"type":"maxpool","size":2},{"type":"flatten"},{"type":"dense","out":128},"""
                + """{"type":"activation","name":"relu"},{"type":"dropout","p":0.25},{"type":"dense","out":10}],"name":"classic"}"""
            Expect.equal (Presets.Create("classic").ToJson(false)) saved "written"
            Expect.isTrue ((ModelConfig.FromJson saved).SameAs(Presets.Create "classic")) "read back"
        }
        test "every layer kind is registered once, names its spec type and declares gradient checks" {
            let kinds = List.ofSeq LayerKinds.All
            Expect.equal (kinds |> List.map (fun k -> k.Name) |> List.distinct).Length kinds.Length "unique names"
            Expect.equal (kinds |> List.map (fun k -> k.SpecType) |> List.distinct).Length kinds.Length "one kind per spec type"
            for kind in kinds do
                Expect.isTrue (typeof<LayerSpec>.IsAssignableFrom kind.SpecType) $"{kind.Name}: spec type"
                Expect.isNonEmpty (List.ofSeq kind.Checks) $"{kind.Name}: gradient checks"
                for check in kind.Checks do
                    Expect.equal (LayerKinds.Of(check.Make.Invoke(Backends.Backend.Cpu))) kind $"{check.Name}: built by its kind"
        }
        test "hand-written config builds with inferred shapes" {
            let json = """{ "numClasses": 10, "inputShape": [1, 28, 28], "layers": [
                { "out": 4, "type": "conv2d", "kernel": 5 },
                { "type": "batchnorm" },
                { "type": "activation", "name": "elu", "alpha": 0.5 },
                { "type": "avgpool", "size": 2 },
                { "type": "flatten" },
                { "type": "dense", "out": 16 },
                { "type": "batchnorm" },
                { "type": "dropout", "p": 0.1 },
                { "type": "dense", "out": 10 } ] }"""
            let model = ModelBuilder.Build(ModelConfig.FromJson json, 3UL)
            let layers = model.Layers |> Array.ofSeq
            Expect.equal (layers.[0] :?> Conv2D).Kernel 5 "kernel"
            Expect.equal (layers.[1].GetType()) typeof<BatchNorm2D> "2-D norm after conv"
            Expect.equal (layers.[2] :?> ELU).Alpha 0.5f "alpha"
            Expect.equal (layers.[5] :?> Dense).InFeatures (4 * 12 * 12) "dense in-features inferred"
            Expect.equal (layers.[6].GetType()) typeof<BatchNorm1D> "1-D norm after dense"
            Expect.equal (model.OutputShape [| 1; 28; 28 |]) [| 10 |] "output"
        }
        test "bad configs are user errors" {
            let bad json = Expect.throwsT<MnistException> (fun () -> ModelBuilder.Build(ModelConfig.FromJson json, 1UL) |> ignore) json
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "lstm" } ] }"""
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "dense" } ] }"""
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "flatten" }, { "type": "dense", "out": 5 } ] }"""
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "flatten" }, { "type": "conv2d", "out": 5 } ] }"""
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "conv2d", "out": 5, "kernel": 40 } ] }"""
            bad """{ "inputShape": [1, 28, 28], "numClasses": 10, "layers": [ { "type": "activation", "name": "softplus" } ] }"""
            bad """not json"""
        }
        test "the seed fixes the weights" {
            let weights seed =
                ModelBuilder.Build(Presets.Create "light", seed).Parameters |> Seq.collect (fun p -> p.Value.Span.ToArray()) |> Array.ofSeq
            Expect.equal (weights 5UL) (weights 5UL) "same seed"
            Expect.notEqual (weights 5UL) (weights 6UL) "other seed"
        }
        test "He initialisation has the right spread; biases start at zero" {
            let model = ModelBuilder.Build(Presets.Create "classic", 1UL)
            let dense = model.Layers.[7] :?> Dense
            let w = dense.Weight.Value.Span.ToArray() |> Array.map float
            let std = sqrt (w |> Array.averageBy (fun v -> v * v))
            Expect.floatClose { absolute = 0.0; relative = 0.02 } std (sqrt (2.0 / 3136.0)) "He std"
            Expect.isTrue (dense.Bias.Value.Span.ToArray() |> Array.forall ((=) 0.0f)) "zero bias"
            let sigmoidDense = ModelBuilder.Build(Presets.Create("classic", 1.0, "sigmoid"), 1UL).Layers.[7] :?> Dense
            let limit = float32 (sqrt (6.0 / float (3136 + 128)))
            let ws = sigmoidDense.Weight.Value.Span.ToArray()
            Expect.isTrue (ws |> Array.forall (fun v -> abs v <= limit)) "Xavier uniform bound"
            Expect.isGreaterThan (ws |> Array.map abs |> Array.max) (0.99f * limit) "fills the range"
        }
        test "sequential passes the first-layer gradient switch on" {
            let model = ModelBuilder.Build(Presets.Create "light", 1UL)
            model.ComputeInputGradient <- false
            let x = RandomInputs.Uniform(1UL, 0.0f, 1.0f, 2, 1, 28, 28)
            let y = model.Forward(x, true)
            model.Backward(y) |> ignore
            Expect.isFalse model.Layers.[0].ComputeInputGradient "first layer skips dx"
            Expect.isTrue model.Layers.[1].ComputeInputGradient "others still compute it"
        }
    ]

/// One training step's forward, loss and backward.
let private step (model: Sequential) (loss: SoftmaxCrossEntropy) (x: Tensor) (labels: int[]) =
    let logits = model.Forward(x, true)
    loss.Forward(logits, ReadOnlySpan<int>(labels)) |> ignore
    model.Backward(loss.Backward()) |> ignore

let private allocationTests =
    testSequencedGroup TestData.kernelSettings <| testList "allocation" [
        for name, width in [ "classic", 1.0; "resnet", 0.25 ] ->
            test (sprintf "%s: steady-state forward + backward allocates nothing" name) {
                let model = ModelBuilder.Build(Presets.Create(name, width), 1UL)
                model.ComputeInputGradient <- false
                let loss = SoftmaxCrossEntropy()
                let x = RandomInputs.Uniform(1UL, 0.0f, 1.0f, 8, 1, 28, 28)
                let labels = Array.init 8 (fun i -> i % 10)
                // Buffers are sized on first use by whichever thread runs a task: warm every thread up.
                for _warm in 1..5 do step model loss x labels
                let before = GC.GetAllocatedBytesForCurrentThread()
                step model loss x labels
                let allocated = GC.GetAllocatedBytesForCurrentThread() - before
                Expect.equal allocated 0L "bytes allocated by a step after the warm-up"
            }
    ]

[<Tests>]
let tests =
    testList "Layers" [ rngTests; forwardTests; lossTests; dropoutTests; batchNormTests; modelTests; allocationTests ]
