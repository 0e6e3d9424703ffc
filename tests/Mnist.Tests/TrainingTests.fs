module Mnist.Tests.TrainingTests

open System
open System.IO
open System.Threading
open Expecto
open Mnist.Core
open Mnist.Core.Data
open Mnist.Core.Evaluation
open Mnist.Core.IO
open Mnist.Core.Models
open Mnist.Core.Optim
open Mnist.Core.Training
open Mnist.Tests.TestData

/// Real MNIST cut down so a few epochs take a second or two.
let private small =
    lazy (
        let full = MnistSource.Load(DataOptions.FromEnvironment mnistDir)
        MnistDataset(full.Train.Take 512, full.Test.Take 300, full.Directory))

let private requireData () =
    if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"

let private spec epochs =
    TrainingSpec(Epochs = epochs, BatchSize = 32, LearningRate = 0.05f, Seed = 7UL, ValidationCount = 64)

let private light = Presets.Create "light"

let private weights (network: Mnist.Core.Layers.Sequential) =
    ModelFile.NamedTensors network |> Seq.map (fun struct (name, t) -> name, t.Span.ToArray()) |> List.ofSeq

[<Tests>]
let tests =
    testSequenced <| testList "Training" [
        test "the same spec and seed give identical numbers" {
            requireData ()
            let a = Trainer(light, spec 2).Run(small.Value)
            let b = Trainer(light, spec 2).Run(small.Value)
            Expect.equal (List.ofSeq (a.History |> Seq.map (fun m -> m.TrainLoss, m.ValidationAccuracy, m.TestLoss)))
                         (List.ofSeq (b.History |> Seq.map (fun m -> m.TrainLoss, m.ValidationAccuracy, m.TestLoss))) "history"
            Expect.equal (weights a.Network) (weights b.Network) "weights"
        }

        test "training lowers the loss and learns" {
            requireData ()
            let result = Trainer(light, spec 3).Run(small.Value)
            Expect.isLessThan result.History[2].TrainLoss result.History[0].TrainLoss "loss falls"
            Expect.isGreaterThan result.Test.Accuracy 0.6 "better than chance by far"
            Expect.equal result.Test.Count 300 "test set evaluated"
        }

        test "a run stopped mid-epoch and resumed matches an uninterrupted one" {
            requireData ()
            use dir = new TempDir()
            let checkpoint = Path.Combine(dir.Path, "checkpoint.safetensors")
            let whole = Trainer(light, spec 3).Run(small.Value)
            // Stop a few batches into epoch 2, as a kill would, then resume from epoch 1's checkpoint.
            use cancel = new CancellationTokenSource()
            let stopInEpoch2 = TrainingCallbacks(Batch = fun p -> if p.Epoch = 2 && p.Samples >= 128 then cancel.Cancel())
            Expect.throwsT<OperationCanceledException>
                (fun () -> Trainer(light, spec 3).Run(small.Value, stopInEpoch2, checkpoint, false, cancel.Token) |> ignore) "stopped"
            let resumed = Trainer(light, spec 3).Run(small.Value, null, checkpoint, true)
            Expect.equal resumed.ResumedAfterEpoch 1 "resumed after epoch 1"
            Expect.equal (List.ofSeq resumed.History |> List.map (fun m -> m.TrainLoss, m.TestAccuracy))
                         (List.ofSeq whole.History |> List.map (fun m -> m.TrainLoss, m.TestAccuracy)) "same metrics"
            Expect.equal (weights resumed.Network) (weights whole.Network) "same weights"
        }

        test "kill -9 in the middle of an augmented run with every trick, then --resume, gives bit-identical final weights" {
            requireData ()
            use dir = new TempDir()
            let args out =
                [ "train"; "--preset"; "light"; "--data-dir"; mnistDir; "--limit"; "3000"; "--test-limit"; "200"; "--epochs"; "5"
                  "--batch-size"; "32"; "--lr"; "0.05"; "--augment"; "standard"; "--label-smoothing"; "0.1"; "--ema"; "0.99"
                  "--tta"; "shifts"; "--out"; out ]
            let whole, killed = Path.Combine(dir.Path, "whole"), Path.Combine(dir.Path, "killed")
            let code, output, errors = Mnist.TestProcesses.mnist (args whole) [] (TimeSpan.FromMinutes 5.0)
            Expect.equal code 0 $"the uninterrupted run trains: {output} {errors}"
            do
                use first = Mnist.TestProcesses.startMnist (args killed) []
                // Killed as soon as epoch 1 is reported: epoch 2's batches are already being prepared
                // ahead, and four epochs still to go keep even a 16-core machine from finishing first.
                first.WaitForLine((fun l -> l.StartsWith "epoch 1:"), TimeSpan.FromMinutes 3.0) |> ignore
                first.Kill()
                Expect.isFalse (File.Exists(Path.Combine(killed, "model.safetensors"))) "killed before the end"
            let code, output, errors = Mnist.TestProcesses.mnist (args killed @ [ "--resume" ]) [] (TimeSpan.FromMinutes 5.0)
            Expect.equal code 0 $"the resumed run finishes: {errors}"
            Expect.stringContains output "resuming after epoch" "resumed from the checkpoint"
            let model folder = ModelFile.Load(Path.Combine(folder, "model.safetensors"))
            Expect.equal (weights (model killed).Network) (weights (model whole).Network) "the same final weights, bit for bit"
            Expect.equal ((model killed).Meta RunMetadata.TestAccuracyKey) ((model whole).Meta RunMetadata.TestAccuracyKey) "the same test accuracy"
        }

        test "the training tricks off leave a spec's JSON as it was; on, they are written and read back" {
            let plain = TrainingSpec()
            for key in [ "augmentation"; "labelSmoothing"; "ema"; "testTimeAugmentation" ] do
                Expect.isFalse (plain.ToJson().Contains key) $"{key} left out when off"
            let tricks =
                TrainingSpec(Augmentation = Mnist.Core.Augmentation.AugmentationSpec.Standard, LabelSmoothing = 0.1f, Ema = Nullable 0.999f,
                             TestTimeAugmentation = "shifts")
            Expect.equal (TrainingSpec.FromJson(tricks.ToJson())) tricks "round trip"
            for bad, message in
                [ TrainingSpec(LabelSmoothing = 1.0f), "label smoothing"
                  TrainingSpec(Ema = Nullable 1.0f), "ema"
                  TrainingSpec(TestTimeAugmentation = "spin"), "test-time augmentation" ] do
                let e = throws<MnistException> (fun () -> bad.Validate() |> ignore)
                Expect.stringContains e.Message message "names the setting"
        }

        test "the weight average starts at the weights, moves by the warmed-up decay (its checkpointing: the kill test above)" {
            let network = Mnist.Core.Models.ModelBuilder.Build(light, 3UL)
            let average = WeightAverage(network, light, 0.99f)
            Expect.equal (weights average.Network) (weights network) "starts at the weights"
            Expect.floatClose Accuracy.medium (float (WeightAverage.DecayAt(0.99f, 1L))) (2.0 / 11.0) "warm-up: (1 + t)/(10 + t)"
            Expect.equal (WeightAverage.DecayAt(0.99f, 100000L)) 0.99f "then the decay"
            let struct (_, w) = (ModelFile.NamedTensors network)[0]
            let before = w.Span.ToArray()
            w.Span.Fill 1.0f
            average.Update 1L
            let struct (_, a) = (ModelFile.NamedTensors average.Network)[0]
            let decay = WeightAverage.DecayAt(0.99f, 1L)
            for i in 0 .. before.Length - 1 do
                Expect.floatClose Accuracy.medium (float a.Span[i]) (float before[i] * float decay + (1.0 - float decay)) "the EMA step"
        }

        test "mnist ensemble evaluates its members and itself, saves them, and eval and predict load it like a model" {
            requireData ()
            use dir = new TempDir()
            let members =
                [ for seed in [ 1UL; 2UL ] ->
                      let trained = Trainer(light, TrainingSpec(Epochs = 1, BatchSize = 32, LearningRate = 0.05f, Seed = seed)).Run(small.Value)
                      let path = Path.Combine(dir.Path, $"m{seed}.safetensors")
                      ModelFile.Save(path, trained.Network, trained.Config, trained.Normalization)
                      path, trained.Test.Accuracy ]
            let out = Path.Combine(dir.Path, "ensemble")
            let limit = [ "--data-dir"; mnistDir; "--test-limit"; "300" ]
            let code, output, errors =
                Mnist.TestProcesses.mnist ([ "ensemble" ] @ List.map fst members @ [ "--out"; out ] @ limit) [] (TimeSpan.FromMinutes 3.0)
            Expect.equal code 0 $"ensemble: {output} {errors}"
            let percent (value: float) = (value * 100.0).ToString("F2", Globalization.CultureInfo.InvariantCulture) + "%"
            for _, accuracy in members do Expect.stringContains output $"test accuracy {percent accuracy}" "each member's accuracy, as its training measured it"
            let manifest = EnsembleManifest.Parse(ReadOnlySpan(File.ReadAllBytes(Path.Combine(out, EnsembleManifest.FileName))), "ensemble.json")
            Expect.equal manifest.Members.Count 2 "two members"
            let expected = Evaluator().Evaluate(Mnist.Core.Inference.Classifier([ for path, _ in members -> Mnist.Core.Inference.ClassifierMember.Of(ModelFile.Load path) ]), small.Value.Test)
            Expect.equal manifest.TestAccuracy (Nullable expected.Accuracy) "the mean of the members' probabilities, evaluated in-process"
            Expect.stringContains output $"ensemble of 2: test accuracy {percent expected.Accuracy}" "printed"
            Expect.isTrue (File.Exists(Path.Combine(out, "report.html"))) "its report page"
            let code, output, errors = Mnist.TestProcesses.mnist ([ "eval"; "--model"; out ] @ limit) [] (TimeSpan.FromMinutes 2.0)
            Expect.equal code 0 errors
            Expect.stringContains output $"accuracy {percent expected.Accuracy}" "eval reproduces the number"
            let code, output, errors = Mnist.TestProcesses.mnist [ "predict"; "--model"; Path.Combine(out, EnsembleManifest.FileName); "--data-dir"; mnistDir; "0" ] [] (TimeSpan.FromMinutes 2.0)
            Expect.equal code 0 errors
            Expect.stringContains output "prediction:" "predicts"
            // a damaged member: one clear line
            let member1 = Path.Combine(out, manifest.Members[0].File)
            let bytes = File.ReadAllBytes member1
            bytes[bytes.Length - 1] <- bytes[bytes.Length - 1] ^^^ 1uy
            File.WriteAllBytes(member1, bytes)
            let code, _, errors = Mnist.TestProcesses.mnist ([ "eval"; "--model"; out ] @ limit) [] (TimeSpan.FromMinutes 2.0)
            Expect.equal code 1 "refused"
            Expect.stringContains errors "damaged or was replaced" "says which file and why"
            Expect.equal (errors.Trim().Split('\n').Length) 1 "one line"
        }

        test "a checkpoint from other settings is refused" {
            requireData ()
            use dir = new TempDir()
            let checkpoint = Path.Combine(dir.Path, "checkpoint.safetensors")
            Trainer(light, spec 1).Run(small.Value, null, checkpoint, false) |> ignore
            let other = TrainingSpec(Epochs = 1, BatchSize = 16, Seed = 7UL, ValidationCount = 64)
            let e = throws<MnistException> (fun () -> Trainer(light, other).Run(small.Value, null, checkpoint, true) |> ignore)
            Expect.stringContains e.Message "other settings" "says why"
        }

        test "early stopping needs validation and stops" {
            let e = throws<MnistException> (fun () -> TrainingSpec(Patience = 2).Validate() |> ignore)
            Expect.stringContains e.Message "validation" "explains"
        }

        for bad, message in
            [ TrainingSpec(Epochs = 0), "epochs"
              TrainingSpec(BatchSize = 0), "batch size"
              TrainingSpec(LearningRate = 0.0f), "learning rate"
              TrainingSpec(LearningRate = nanf), "learning rate must be a positive number, got nan"
              TrainingSpec(Optimizer = OptimizerConfig "sgdx"), "unknown optimizer"
              TrainingSpec(Schedule = ScheduleConfig "zigzag"), "schedule" ] do
            test $"bad spec is refused: {message}" {
                let e = throws<MnistException> (fun () -> bad.Validate() |> ignore)
                Expect.stringContains (e.Message.ToLowerInvariant()) message "names the setting"
            }

        test "a saved model loads bit-exact with its config and normalisation" {
            requireData ()
            use dir = new TempDir()
            let result = Trainer(light, spec 1).Run(small.Value)
            let path = Path.Combine(dir.Path, "m.safetensors")
            ModelFile.Save(path, result.Network, result.Config, result.Normalization, extraMetadata = RunMetadata.Of(result, spec 1))
            let loaded = ModelFile.Load path
            Expect.equal (weights loaded.Network) (weights result.Network) "weights"
            Expect.isTrue (loaded.Config.SameAs result.Config) "config"
            Expect.equal loaded.Normalization result.Normalization "normalisation"
            Expect.equal (loaded.Meta RunMetadata.TestAccuracyKey) (result.Test.Accuracy.ToString("R", Globalization.CultureInfo.InvariantCulture)) "metadata kept"
            let again = Evaluator().Evaluate(loaded.Network, BatchLoader(small.Value.Test, loaded.Normalization))
            Expect.equal again.Accuracy result.Test.Accuracy "same predictions"
        }

        test "junk, truncated and foreign model files are refused clearly" {
            requireData ()
            use dir = new TempDir()
            let result = Trainer(light, spec 1).Run(small.Value)
            let good = Path.Combine(dir.Path, "good.safetensors")
            ModelFile.Save(good, result.Network, result.Config, result.Normalization)
            let bytes = File.ReadAllBytes good
            let write name (content: byte[]) =
                let p = Path.Combine(dir.Path, name)
                File.WriteAllBytes(p, content)
                p
            let cases =
                [ write "junk" (Text.Encoding.ASCII.GetBytes "this is not a model at all, just some text"), dir.Path
                  write "truncated" bytes[.. bytes.Length / 2], "truncated"
                  Path.Combine(dir.Path, "missing.safetensors"), "not found" ]
            for path, expected in cases do
                let e = throws<MnistException> (fun () -> ModelFile.Load path |> ignore)
                Expect.isFalse (e.Message.Contains '\n') "one line"
                Expect.stringContains e.Message (if expected = dir.Path then "junk" else expected) path
            // A plain safetensors file without our metadata.
            let foreign = Path.Combine(dir.Path, "foreign.safetensors")
            SafeTensors.Write(foreign, [| struct ("x", Mnist.Core.Tensors.Tensor(2)) |])
            let e = throws<MnistException> (fun () -> ModelFile.Load foreign |> ignore)
            Expect.stringContains e.Message "not a Mnist.Experiments model" "foreign"
        }

        test "per-class scores follow from the confusion matrix" {
            let confusion = Array2D.zeroCreate<int> 2 2
            confusion[0, 0] <- 8; confusion[0, 1] <- 2; confusion[1, 0] <- 1; confusion[1, 1] <- 9
            let r = EvaluationResult(0.5, confusion, [||])
            Expect.equal r.Accuracy 0.85 "accuracy"
            let scores = r.PerClass()
            Expect.floatClose Accuracy.veryHigh scores[0].Precision (8.0 / 9.0) "precision 0"
            Expect.floatClose Accuracy.veryHigh scores[0].Recall 0.8 "recall 0"
            Expect.floatClose Accuracy.veryHigh scores[1].F1 (2.0 * (9.0 / 11.0) * 0.9 / ((9.0 / 11.0) + 0.9)) "f1 1"
            Expect.equal scores[1].Support 10 "support"
        }
    ]

/// Bytes allocated by three training steps (forward, loss, backward, optimizer) of the classic
/// network after a warm-up. A plain function: loops inside a `test { }` block go through the
/// builder and allocate by themselves.
let private bytesPerThreeSteps () =
    let config = Presets.Create "classic"
    let network = ModelBuilder.Build(config, 3UL)
    network.ComputeInputGradient <- false
    let named = network.NamedParameters |> Seq.toList
    let optimizer = Optimizers.Create(OptimizerConfig "nesterov", named |> List.map (fun struct (_, p) -> p) |> ResizeArray)
    optimizer.NameParameters(named |> List.map (fun struct (n, _) -> n) |> ResizeArray)
    let schedule = Schedules.Create(ScheduleConfig "onecycle", 0.05f, 1000L, 100)
    let loss = Mnist.Core.Losses.SoftmaxCrossEntropy()
    let images = Mnist.Core.Tensors.Tensor(16, 1, 28, 28)
    let rng = Mnist.Core.Rng(5UL)
    for i in 0 .. images.Length - 1 do images[i] <- rng.NextFloat()
    let labels = Array.init 16 (fun i -> i % 10)
    let step () =
        let logits = network.Forward(images, true)
        loss.Forward(logits, ReadOnlySpan labels) |> ignore
        network.Backward(loss.Backward()) |> ignore
        optimizer.Step schedule |> ignore
    for _warm in 1..5 do step () // buffers are sized on the first step
    let before = GC.GetAllocatedBytesForCurrentThread()
    for _step in 1..3 do step ()
    GC.GetAllocatedBytesForCurrentThread() - before

[<Tests>]
let allocation =
    testSequencedGroup kernelSettings <| test "Training.a steady-state training step allocates nothing" {
        Expect.equal (bytesPerThreeSteps ()) 0L "bytes allocated by three steps"
    }

[<Tests>]
let lonelyBatch =
    test "Training.batch norm leaves out a last batch of one image instead of failing" {
        if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
        let full = MnistSource.Load(DataOptions.FromEnvironment mnistDir)
        let data = MnistDataset(full.Train.Take 65, full.Test.Take 50, full.Directory)
        let result = Trainer(Presets.Create("resnet", 0.25), TrainingSpec(Epochs = 1, BatchSize = 32)).Run(data)
        Expect.equal (result.History[0].ImagesPerSecond * result.History[0].Seconds |> round) 64.0 "64 of 65 images trained"
    }
