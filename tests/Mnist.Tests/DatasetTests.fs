module Mnist.Tests.DatasetTests

open System
open Expecto
open Mnist.Core.Data
open Mnist.Tests.TestData

let private real = lazy (MnistSource.Load(DataOptions.FromEnvironment mnistDir))

let private requireData () =
    if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"

[<Tests>]
let tests =
    testList "Dataset" [
        test "the real MNIST loads with the known label counts" {
            requireData ()
            let data = real.Value
            Expect.equal data.Train.Count 60000 "train"
            Expect.equal data.Test.Count 10000 "test"
            Expect.equal (data.Train.LabelCounts()) [| 5923; 6742; 5958; 6131; 5842; 5421; 5918; 6265; 5851; 5949 |] "train labels"
            Expect.equal (data.Train.Height, data.Train.Width) (28, 28) "28x28"
        }

        test "the shared folder holds the canonical files" {
            requireData ()
            for name in MnistFiles.All do
                Expect.isTrue (MnistFiles.IsCanonical(MnistFiles.Find(mnistDir, name), name)) name
        }

        test "normalisation statistics match MNIST's well-known values" {
            requireData ()
            let n = Normalization.FromTraining real.Value.Train
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } (float n.Mean) 0.1307 "mean"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } (float n.Std) 0.3081 "std"
        }

        test "batches are normalised NCHW floats with their labels" {
            requireData ()
            let train = real.Value.Train
            let norm = Normalization.FromTraining train
            let loader = BatchLoader(train, norm)
            let images = Array.zeroCreate<float32> (3 * 784)
            let labels = Array.zeroCreate<int> 3
            loader.Fill(ReadOnlySpan [| 5; 0; 59999 |], Span images, Span labels)
            Expect.equal labels [| int train.Labels[5]; int train.Labels[0]; int train.Labels[59999] |] "labels"
            let expected = float32 train.Pixels[784 * 5 + 300] / 255.0f
            Expect.floatClose Accuracy.high (float images[300]) (float ((expected - norm.Mean) / norm.Std)) "pixel"
            let mean = images |> Array.averageBy float
            Expect.isLessThan (abs mean) 1.0 "roughly centred"
        }

        test "a validation split is carved off the end" {
            requireData ()
            let struct (train, validation) = ValidationSplit.Carve(real.Value.Train, 5000)
            Expect.equal (train.Count, validation.Count) (55000, 5000) "sizes"
            Expect.equal validation.Labels[0] real.Value.Train.Labels[55000] "order kept"
        }
    ]
