/// The full pipeline from a person's drawing to a prediction: real test digits scaled up 10×,
/// drawn black on white into a PNG, sent over HTTP, decoded, prepared like MNIST and classified.
module Mnist.Web.Tests.PipelineTests

open System
open System.Threading.Tasks
open Expecto
open Mnist.Web.Tests.Fixture
open Mnist.Web.Tests.Http
open Mnist.Web.Tests.Drawings

let private count = 1000

/// The bounding box (width, height) of the pixels holding any ink.
let private inkExtent (image: float32[]) =
    let rows = [ for y in 0..27 do if Array.exists (fun x -> image[y * 28 + x] > 0.0f) [| 0..27 |] then y ]
    let cols = [ for x in 0..27 do if Array.exists (fun y -> image[y * 28 + x] > 0.0f) [| 0..27 |] then x ]
    if rows.IsEmpty then 0, 0 else List.max cols - List.min cols + 1, List.max rows - List.min rows + 1

[<Tests>]
let pipeline =
    testList "web pipeline"
        [ testT "1000 test digits drawn 10x on white are classified as the originals at least 98% of the time; each prepared digit is MNIST-framed" <| fun () -> task {
              let client = snd api.Value
              let predictor = localPredictor ()
              let originals = Array.init count (fun i -> predictor.Predict(ReadOnlySpan(testPixels i)).Digit)
              let answers = Array.zeroCreate count
              // Four requests in flight at a time, through the three ways a PNG can arrive.
              let! _ =
                  Task.WhenAll(
                      [| for lane in 0..3 ->
                             task {
                                 for i in lane .. 4 .. count - 1 do
                                     let png = drawnDigit (testPixels i)
                                     let content =
                                         match i % 3 with
                                         | 0 -> dataUrlJson png
                                         | 1 -> multipartPng png
                                         | _ -> raw (Some "image/png") png
                                     let! answer = predict client content
                                     answers[i] <- answer
                             } :> Task |])
              let mutable same = 0
              let mutable worstCentre = 0.0
              let mutable widest = 0
              for i in 0 .. count - 1 do
                  let answer = answers[i]
                  Expect.equal answer.Status 200 answer.Text
                  Expect.isFalse (answer.Body.GetProperty("empty").GetBoolean()) $"digit {i} found"
                  if answer.Body.GetProperty("digit").GetInt32() = originals[i] then same <- same + 1
                  let centre = answer.Body.GetProperty "centreOfMass"
                  let dx, dy = centre.GetProperty("x").GetDouble() - 14.0, centre.GetProperty("y").GetDouble() - 14.0
                  worstCentre <- max worstCentre (sqrt (dx * dx + dy * dy))
                  let w, h = inkExtent (floats (answer.Body.GetProperty "image"))
                  widest <- max widest (max w h)
              eprintfn "  pipeline: %d/%d agree with the originals; centre of mass at most %.2f px from (14,14); ink box at most %d px"
                  same count worstCentre widest
              Expect.isGreaterThanOrEqual same (count * 98 / 100) "agreement with the originals"
              Expect.isLessThanOrEqual worstCentre 1.0 "centre of mass within 1 px of (14, 14)"
              Expect.isLessThanOrEqual widest 20 "ink box at most 20 px"
          } ]
