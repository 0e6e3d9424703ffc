/// What the server adds to inference: the first convolution's feature maps and the predictor pool.
module Mnist.Web.Tests.InferenceTests

open System
open System.Threading.Tasks
open Expecto
open Mnist.Core.Inference
open Mnist.Core.IO
open Mnist.Core.Kernels
open Mnist.Core.Layers
open Mnist.Core.Models
open Mnist.Web
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http

[<Tests>]
let inference =
    testList "web inference"
        [ testCase "feature maps are ReLU(conv1(x)) by the scalar reference, and the prediction is Predict's" <| fun () ->
              let model = ModelFile.Load modelPath.Value
              let predictor = Predictor model
              let pixels = testPixels 3
              let plain = predictor.Predict(ReadOnlySpan pixels)
              let struct (prediction, maps) = predictor.PredictWithFeatureMaps(ReadOnlySpan pixels)
              Expect.equal prediction.Probabilities plain.Probabilities "same probabilities, bit for bit"
              let maps = maps |> Option.ofObj |> Option.defaultWith (fun () -> failtest "no maps")
              Expect.equal (maps.Layer, maps.Channels, maps.Height, maps.Width) (1, 32, 28, 28) "after the ReLU that follows conv1"
              let conv = model.Network.Layers[0] :?> Conv2D
              let input = pixels |> Array.map model.Normalization.Apply
              let expected = Array.zeroCreate (32 * 28 * 28)
              let g = ConvGeometry(1, 28, 28, 3, 3, 1, 1)
              ConvolutionReference.Forward(&g, 32, 1, ReadOnlySpan input, conv.Weight.Value.Span, conv.Bias.Value.Span, Span expected)
              let expected = expected |> Array.map (max 0.0f)
              let worst = Array.map2 (fun (a: float32) b -> abs (a - b)) maps.Values expected |> Array.max
              Expect.isLessThan worst 1e-4f "matches the reference convolution"

          testCase "the feature layer is the first convolution's, after its batch norm and activation" <| fun () ->
              Expect.equal (FeatureMaps.LayerOf(ModelBuilder.Build(Presets.Create "classic", 0UL))) 1 "classic: conv, relu"
              Expect.equal (FeatureMaps.LayerOf(ModelBuilder.Build(Presets.Create "resnet", 0UL))) 2 "resnet: conv, batch norm, relu"
              Expect.equal (FeatureMaps.LayerOf(Sequential(Flatten(), Dense(784, 10)))) -1 "no convolution, no maps"

          testT "the pool never builds more networks than its size, and its copies answer like the original" <| fun () -> task {
              let model = ModelFile.Load modelPath.Value
              let pool = PredictorPool(Classifier([ ClassifierMember.Of model ]), 2)
              let expected = Predictor(ModelFile.Load modelPath.Value).Predict(ReadOnlySpan(testPixels 5)).Probabilities
              let! answers =
                  Task.WhenAll(
                      Array.init 64 (fun _ ->
                          Task.Run<float32[]>(fun () ->
                              (pool.Run(fun p -> Threading.Thread.Sleep 1; p.Predict(ReadOnlySpan(testPixels 5)).Probabilities)).AsTask())))
              Expect.equal pool.Created 2 "two networks for two turns"
              for a in answers do Expect.equal a expected "every copy answers the same"
          }

          testCase "an ensemble folder is served like a model: the mean of its members' probabilities, its members described" <| fun () ->
              let dir = IO.Directory.CreateTempSubdirectory("mnist-web-ensemble-").FullName
              try
                  ClassifierFile.SaveEnsemble(dir, [ struct (modelPath.Value, "aaaaaaaaaaaa", Nullable 0.99); struct (modelPath.Value, null, Nullable()) ], null, Nullable(), Nullable())
                  |> ignore
                  let served = ServedModel.Load(dir, 1, Mnist.Core.Backends.Backend.Cpu)
                  Expect.equal served.Description.Members.Count 2 "both members described"
                  Expect.stringStarts served.Description.Name "ensemble of 2" "named as an ensemble"
                  let single = Predictor(ModelFile.Load modelPath.Value).Predict(ReadOnlySpan(testPixels 4)).Probabilities
                  let both = served.Pool.Run(fun p -> p.Predict(ReadOnlySpan(testPixels 4)).Probabilities).AsTask().Result
                  // two identical members: their mean is the member's answer (to float rounding of the float64 mean)
                  for a, b in Array.zip single both do Expect.floatClose Accuracy.high (float a) (float b) "the same answer"
                  let e = Expect.throwsC (fun () -> ServedModel.Load(IO.Path.Combine(dir, "member-1.safetensors") + ".missing", 1, Mnist.Core.Backends.Backend.Cpu) |> ignore) id
                  Expect.stringContains e.Message "not found" "a missing file is named"
              finally
                  IO.Directory.Delete(dir, true)
          ]
