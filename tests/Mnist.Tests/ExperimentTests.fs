/// Experiment specs and their ids, sweep expansion and sharding.
module Mnist.Tests.ExperimentTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open Mnist.Core
open Mnist.Core.Optim
open Mnist.Core.Training
open Mnist.Experiments
open Mnist.Tests.ExperimentFixtures

let private specOf (json: string) = ExperimentSpec.ofJson json
let private idOf (json: string) = ExperimentSpec.runId (specOf json)

let private messageOf (f: unit -> 'a) =
    try
        f () |> ignore
        failtest "expected a MnistException"
    with :? MnistException as e -> e.Message

[<Tests>]
let specTests =
    testList "Experiments.Spec" [
        test "an id is 12 lower-case hex digits and the same spec always gives the same id" {
            let id = ExperimentSpec.runId tinySpec
            Expect.isMatch id "^[0-9a-f]{12}$" "shape of the id"
            Expect.equal (ExperimentSpec.runId { tinySpec with Preset = "light" }) id "same spec, same id"
        }

        test "the default spec's id is pinned: a change here re-keys every stored result" {
            Expect.equal (ExperimentSpec.canonicalJson ExperimentSpec.defaults)
                """{"activation":"relu","batchSize":64,"dataset":"mnist","epochs":1,"learningRate":0.05,"optimizer":{"l1":0,"l2":0,"momentum":0.9,"name":"nesterov","weightDecay":0},"preset":"classic","schedule":{"baseMomentum":0.85,"cycleMomentum":true,"divFactor":25,"finalDivFactor":10000,"maxMomentum":0.95,"name":"onecycle","pctStart":0.3},"seed":1,"validation":0,"width":1}"""
                "canonical JSON: sorted keys, defaults filled in, nulls dropped"
            Expect.equal (ExperimentSpec.runIdFor "engine-1" ExperimentSpec.defaults) "32c012816dce" "id of the default spec under engine-1"
        }

        test "training tricks that are off leave the id as it was" {
            let plain = idOf """{ "preset": "light" }"""
            Expect.equal (idOf """{ "preset": "light", "augmentation": "none", "labelSmoothing": 0, "ema": null, "testTimeAugmentation": "none" }""") plain "off spelt out"
            Expect.equal (idOf """{ "preset": "light", "augmentation": { "rotation": 0 } }""") plain "ranges of 0"
            Expect.equal (idOf """{ "preset": "light", "augmentation": "standard" }""")
                         (idOf """{ "preset": "light", "augmentation": { "rotation": 10, "scale": 0.1, "shear": 10, "translate": 0.1 } }""") "a name is its ranges"
        }

        test "the best preset carries its recipe, and a trick turned off survives the spec's JSON" {
            let best = ExperimentSpec.ofJson """{ "preset": "best" }"""
            let recipe = Recipes.Best
            Expect.equal best.Epochs recipe.Epochs "epochs"
            Expect.equal best.LearningRate recipe.LearningRate "learning rate"
            Expect.equal best.Augmentation (Some Mnist.Core.Augmentation.AugmentationSpec.Standard) "augmentation"
            Expect.equal best.LabelSmoothing (Some recipe.LabelSmoothing) "label smoothing"
            Expect.equal best.Ema (Option.ofNullable recipe.Ema) "ema"
            Expect.equal (ExperimentSpec.trainingSpec best).Ema recipe.Ema "trains with the average"
            for off in [ """{ "preset": "best", "ema": null }"""; """{ "preset": "best", "augmentation": "none" }"""; """{ "preset": "best", "labelSmoothing": 0 }""" ] do
                let spec = ExperimentSpec.ofJson off
                Expect.notEqual (ExperimentSpec.runId spec) (ExperimentSpec.runId best) $"{off} is another run"
                let again = ExperimentSpec.ofJson (ExperimentSpec.toJson spec)
                Expect.equal (ExperimentSpec.runId again) (ExperimentSpec.runId spec) $"{off} read back is the same run"
            let noEma = ExperimentSpec.trainingSpec (ExperimentSpec.ofJson """{ "preset": "best", "ema": null }""")
            Expect.isFalse noEma.Ema.HasValue "ema off trains without the average"
            let noAug = ExperimentSpec.trainingSpec (ExperimentSpec.ofJson """{ "preset": "best", "augmentation": "none" }""")
            Expect.isNull (box noAug.Augmentation) "augmentation off trains on the images as they are"
            Expect.equal (ExperimentSpec.runId (ExperimentSpec.ofJson """{ "preset": "classic" }""")) (ExperimentSpec.runId ExperimentSpec.defaults)
                "the classic defaults are untouched"
        }

        test "spelling a default out, key order, case and aliases do not change the id" {
            let plain = idOf """{ "preset": "classic", "optimizer": "nesterov", "activation": "relu" }"""
            Expect.equal (idOf """{ "activation": "ReLU", "optimizer": { "name": "Nesterov", "momentum": 0.9 }, "preset": " Classic " }""") plain "explicit defaults"
            Expect.equal (idOf """{ "Preset": "classic", "schedule": { "name": "one-cycle", "pctStart": 0.3 } }""") plain "schedule alias and default"
            Expect.equal (idOf """{ "activation": "silu" }""") (idOf """{ "activation": "swish" }""") "silu is swish"
        }

        test "every setting is part of the id" {
            let baseId = ExperimentSpec.runId tinySpec
            let variants =
                [ "dataset", { tinySpec with Dataset = "/data/other" }
                  "preset", { tinySpec with Preset = "classic" }
                  "width", { tinySpec with Width = 0.5 }
                  "activation", { tinySpec with Activation = "tanh" }
                  "optimizer", { tinySpec with Optimizer = OptimizerConfig("adam") }
                  "momentum", { tinySpec with Optimizer = OptimizerConfig("nesterov", Momentum = 0.8f) }
                  "learning rate", { tinySpec with LearningRate = 0.051f }
                  "schedule", { tinySpec with Schedule = ScheduleConfig("cosine") }
                  "batch size", { tinySpec with BatchSize = 33 }
                  "epochs", { tinySpec with Epochs = 3 }
                  "seed", { tinySpec with Seed = 2UL }
                  "limit", { tinySpec with Limit = Some 200 }
                  "validation", { tinySpec with Validation = 41 }
                  "patience", { tinySpec with Patience = Some 1 }
                  "augmentation", { tinySpec with Augmentation = Some Mnist.Core.Augmentation.AugmentationSpec.Standard }
                  "label smoothing", { tinySpec with LabelSmoothing = Some 0.1f }
                  "ema", { tinySpec with Ema = Some 0.999f }
                  "test-time augmentation", { tinySpec with TestTimeAugmentation = Some "shifts" } ]
            let ids = variants |> List.map (fun (name, spec) -> name, ExperimentSpec.runId spec)
            for name, id in ids do
                Expect.notEqual id baseId $"changing the {name} changes the id"
            Expect.equal (ids |> List.map snd |> List.distinct |> List.length) ids.Length "all variants differ from each other"
        }

        test "the engine version is part of the id" {
            Expect.notEqual (ExperimentSpec.runIdFor "engine-1" tinySpec) (ExperimentSpec.runIdFor "engine-2" tinySpec) "engine bump"
            Expect.equal (ExperimentSpec.runId tinySpec) (ExperimentSpec.runIdFor EngineVersion.Current tinySpec) "current engine"
        }

        test "a spec survives its JSON file" {
            let spec = ExperimentSpec.normalize { tinySpec with Limit = Some 300; Patience = Some 2; Validation = 50 }
            Expect.equal (ExperimentSpec.ofJson (ExperimentSpec.toJson spec)) spec "round trip"
        }

        test "bad specs are refused with a message naming the problem" {
            Expect.stringContains (messageOf (fun () -> specOf """{ "learningrate": 0.1, "lr": 1 }""")) "unknown spec field 'lr'" "unknown field"
            Expect.stringContains (messageOf (fun () -> specOf """{ "learningRate": -1 }""")) "learning rate" "negative rate"
            Expect.stringContains (messageOf (fun () -> specOf """{ "preset": "vgg" }""")) "unknown model preset 'vgg'" "preset"
            Expect.stringContains (messageOf (fun () -> specOf """{ "activation": "gelu" }""")) "unknown activation" "activation"
            Expect.stringContains (messageOf (fun () -> specOf """{ "optimizer": { "name": "adam", "momentum": 0.9 } }""")) "has no momentum" "optimizer setting"
            Expect.stringContains (messageOf (fun () -> specOf """{ "batchSize": "big" }""")) "invalid experiment spec" "wrong type"
            Expect.stringContains (messageOf (fun () -> specOf """{ "patience": 2 }""")) "validation" "patience needs validation"
        }
    ]

[<Tests>]
let sweepTests =
    testList "Experiments.Sweep" [
        test "a grid expands to the product of its axes, the last axis varying fastest, over the base" {
            let sweep =
                Sweep.parse "s" """{ "base": { "preset": "light", "epochs": 2, "batchSize": 16 },
                                     "grid": { "learningRate": [0.01, 0.1, 1], "batchSize": [32, 64], "activation": "tanh" } }"""
            let runs = Sweep.expand sweep
            Expect.equal runs.Length 6 "3 × 2 × 1"
            Expect.sequenceEqual [ for r in runs -> r.Spec.BatchSize ] [ 32; 64; 32; 64; 32; 64 ] "grid overrides the base"
            Expect.sequenceEqual [ for r in runs -> r.Spec.LearningRate ] [ 0.01f; 0.01f; 0.1f; 0.1f; 1f; 1f ] "order"
            Expect.isTrue (runs |> List.forall (fun r -> r.Spec.Preset = "light" && r.Spec.Epochs = 2 && r.Spec.Activation = "tanh")) "base and scalar axis"
            Expect.sequenceEqual [ for r in runs -> r.Position ] [ 0 .. 5 ] "positions"
            Expect.sequenceEqual [ for r in runs -> r.Id ] [ for r in runs -> ExperimentSpec.runId r.Spec ] "ids are the specs' ids"
        }

        test "a list of grids is the union of their products, each spec once" {
            let sweep =
                Sweep.parse "s" """{ "base": { "preset": "light" },
                                     "grid": [ { "optimizer": ["nesterov", "sgd"], "learningRate": [0.05, 0.1] },
                                               { "optimizer": ["adam"], "learningRate": [0.001] },
                                               { "optimizer": [{ "name": "nesterov", "momentum": 0.9 }], "learningRate": [0.05] } ] }"""
            let runs = Sweep.expand sweep
            Expect.equal runs.Length 5 "4 + 1 + a duplicate of the first point dropped"
            Expect.equal (runs |> List.map (fun r -> r.Id) |> List.distinct |> List.length) 5 "distinct ids"
            Expect.equal [ for r in runs -> r.Spec.Optimizer.Name ] [ "nesterov"; "nesterov"; "sgd"; "sgd"; "adam" ] "order kept"
        }

        test "mistakes in a sweep are refused with the sweep and point named" {
            Expect.stringContains (messageOf (fun () -> Sweep.expand (Sweep.parse "s" """{ "grid": { "learningRate": [] } }"""))) "has no values" "empty axis"
            Expect.stringContains (messageOf (fun () -> Sweep.expand (Sweep.parse "s" """{ "grid": { "lr": [0.1] } }"""))) "unknown spec field 'lr'" "unknown axis"
            Expect.stringContains (messageOf (fun () -> Sweep.expand (Sweep.parse "s" """{ "grid": { "learningRate": [0.1, -1] } }""")))
                "sweep 's', point {\"learningRate\":-1}" "bad point named"
            Expect.stringContains (messageOf (fun () -> Sweep.parse "s" """{ "grids": {} }""")) "unknown field 'grids'" "unknown sweep field"
            Expect.stringContains (messageOf (fun () -> Sweep.parse "s" """{ "name": "../x" }""")) "sweep name" "unsafe name"
            Expect.stringContains (messageOf (fun () -> Sweep.load experimentsDir "nope")) "known sweeps:" "unknown sweep lists the known ones"
            // found by fuzzing: these escaped as ArgumentException and InvalidOperationException
            Expect.stringContains (messageOf (fun () -> Sweep.parse "s" """{ "grid": { "epochs": [1], "epochs": [2] } }""")) "Duplicate property 'epochs'" "a duplicate key"
            Expect.stringContains (messageOf (fun () -> Sweep.expand (Sweep.parse "s" """{ "base": { "preset": "\udfff" } }"""))) "invalid JSON" "an escaped lone surrogate"
            let axes = String.Join(", ", [ for axis in [ "epochs"; "batchSize"; "seed"; "limit"; "validation"; "patience" ] -> $"\"{axis}\": [1,2,3,4,5,6,7,8,9,10]" ])
            Expect.stringContains (messageOf (fun () -> Sweep.expand (Sweep.parse "s" ("{ \"grid\": {" + axes + "} }")))) "more than 10000 points" "a million points"
        }

        test "a model config far too large is refused before anything is allocated" {
            let config (layers: string) = Mnist.Core.Models.ModelConfig.FromJson("{\"inputShape\": [1, 28, 28], \"numClasses\": 10, \"layers\": [" + layers + "]}")
            for layers, fragment in
                [ "{\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":2000000000}", "too large for a layer setting"
                  "{\"type\":\"conv2d\",\"out\":8,\"pad\":1}, {\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":20000}, {\"type\":\"dense\",\"out\":10}", "over 67108864 parameters"
                  "{\"type\":\"conv2d\",\"out\":4,\"pad\":2000000000}, {\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":10}", "too large for a layer setting"
                  // 65536 × 65536 × 65536² weights: a long wraps round to 0 unless the count saturates
                  "{\"type\":\"conv2d\",\"out\":65536,\"kernel\":1}, {\"type\":\"conv2d\",\"out\":65536,\"kernel\":65536,\"pad\":32768}, {\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":10}", "over 67108864 parameters"
                  "{\"type\":\"conv2d\",\"out\":4}, {\"type\":\"batchnorm\",\"epsilon\":0}, {\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":10}", "epsilon must be a positive number"
                  "{\"type\":\"activation\",\"name\":\"leakyrelu\",\"slope\":1e30}, {\"type\":\"flatten\"}, {\"type\":\"dense\",\"out\":10}", "slope 1E+30 is outside" ] do
                let before = GC.GetAllocatedBytesForCurrentThread()
                let message = messageOf (fun () -> Mnist.Core.Models.ModelBuilder.Build(config layers, 1UL))
                Expect.stringContains message fragment layers
                Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) (16L <<< 20) "refused before allocating"
        }

        test "the shipped sweeps travel inside the program: found by name from a folder without experiments/" {
            use empty = new Mnist.Tests.TestData.TempDir()
            let nowhere = Path.Combine(empty.Path, "experiments")
            for name in [ "quick"; "full"; "smoke" ] do
                let shipped = Sweep.load nowhere name
                let onDisk = Sweep.load experimentsDir name
                Expect.equal shipped.Text onDisk.Text $"{name}: the embedded copy is the file"
                Expect.equal (Sweep.expand shipped |> List.map (fun r -> r.Id)) (Sweep.expand onDisk |> List.map (fun r -> r.Id)) $"{name}: same runs"
            Expect.stringContains (messageOf (fun () -> Sweep.load nowhere "nope")) "known sweeps: best-seeds, best-tune, full, quick, smoke" "the shipped names are listed"
            File.WriteAllText(Path.Combine(empty.Path, "mine.json"), """{ "name": "mine", "base": { "epochs": 1 } }""")
            Expect.equal (Sweep.load empty.Path "mine").Name "mine" "a local file is found by name"
        }

        test "the shipped sweeps parse and have the intended sizes" {
            let quick = Sweep.load experimentsDir "quick" |> Sweep.expand
            Expect.equal quick.Length 24 "quick: 2 models × 2 activations × 2 batch sizes × 3 rates"
            Expect.isTrue (quick |> List.forall (fun r -> r.Spec.Limit = Some 15000 && r.Spec.Epochs = 3 && r.Spec.Validation = 1500)) "quick is short"
            let full = Sweep.load experimentsDir "full" |> Sweep.expand
            Expect.isGreaterThan full.Length 40 "full is a real sweep"
            Expect.isTrue (full |> List.forall (fun r -> r.Spec.Limit.IsNone)) "full uses all the data"
            Expect.equal (full |> List.map (fun r -> r.Spec.Optimizer.Name) |> List.distinct |> List.sort)
                [ "adagrad"; "adam"; "adamw"; "momentum"; "nesterov"; "rmsprop"; "sgd" ] "full compares optimizers"
            let tune = Sweep.load experimentsDir "best-tune" |> Sweep.expand
            Expect.equal tune.Length 10 "best-tune: 3 augmentations, 3 tricks toggled, 2 rates × 2 lengths"
            Expect.isTrue (tune |> List.forall (fun r -> r.Spec.Preset = "best" && r.Spec.Validation = 2000 && r.Spec.Limit = Some 12000))
                "best-tune is short and tunes on validation"
            let seeds = Sweep.load experimentsDir "best-seeds" |> Sweep.expand
            Expect.equal (seeds |> List.map (fun r -> r.Spec.Seed)) [ 1UL .. 5UL ] "best-seeds: seeds 1 to 5"
            let recipe = ExperimentSpec.ofJson """{ "preset": "best" }"""
            Expect.isTrue (seeds |> List.forall (fun r -> { r.Spec with Seed = 1UL } = recipe)) "each is `mnist train --preset best`"
        }
    ]

[<Tests>]
let shardTests =
    testList "Experiments.Shard" [
        test "shards are disjoint, balanced, and together make the sweep" {
            let runs = Sweep.load experimentsDir "quick" |> Sweep.expand
            for n in 1 .. 7 do
                let shards = [ for k in 1 .. n -> Shard.select { Index = k; Count = n } runs ]
                let ids = shards |> List.collect (List.map (fun r -> r.Id))
                Expect.equal ids.Length runs.Length $"N={n}: no run twice"
                Expect.equal (set ids) (set [ for r in runs -> r.Id ]) $"N={n}: every run once"
                let sizes = shards |> List.map List.length
                Expect.isLessThanOrEqual (List.max sizes - List.min sizes) 1 $"N={n}: balanced"
        }

        test "a shard depends only on the sweep, not on the machine or the run's state" {
            let runs = Sweep.expand (tinySweep ())
            Expect.sequenceEqual [ for r in Shard.select (Shard.parse "2/3") runs -> r.Position ] [ 1 ] "positions 1, 4, 7, ..."
            Expect.sequenceEqual [ for r in Shard.select (Shard.parse " 1 / 2 ") runs -> r.Position ] [ 0; 2 ] "1/2"
        }

        test "--shard auto reads a Slurm array task or a Kubernetes indexed job" {
            let from (variables: (string * string) list) = Shard.fromEnvironment (fun name -> variables |> List.tryFind (fst >> (=) name) |> Option.map snd |> Option.toObj)
            Expect.equal (from [ "SLURM_ARRAY_TASK_ID", "0"; "SLURM_ARRAY_TASK_COUNT", "3" ]) { Index = 1; Count = 3 } "Slurm, 0-based"
            Expect.equal (from [ "SLURM_ARRAY_TASK_ID", "2"; "SLURM_ARRAY_TASK_COUNT", "1"; "MNIST_SHARD_COUNT", "3" ]) { Index = 3; Count = 3 }
                "a resubmitted task (an array of one) keeps the sweep's task count"
            Expect.equal (from [ "JOB_COMPLETION_INDEX", "3"; "MNIST_SHARD_COUNT", "4" ]) { Index = 4; Count = 4 } "Kubernetes"
            for bad, why in [ [], "needs SLURM_ARRAY_TASK_ID"
                              [ "JOB_COMPLETION_INDEX", "1" ], "set MNIST_SHARD_COUNT"
                              [ "SLURM_ARRAY_TASK_ID", "2"; "SLURM_ARRAY_TASK_COUNT", "2" ], "outside 0..1"
                              [ "SLURM_ARRAY_TASK_ID", "x"; "SLURM_ARRAY_TASK_COUNT", "2" ], "not a number" ] do
                Expect.stringContains (messageOf (fun () -> from bad)) why $"{bad}"
        }

        test "a malformed shard is refused" {
            for bad in [ "0/3"; "4/3"; "3"; "a/b"; "1/0"; "-1/2" ] do
                Expect.stringContains (messageOf (fun () -> Shard.parse bad)) "shard must be k/N" bad
        }
    ]
