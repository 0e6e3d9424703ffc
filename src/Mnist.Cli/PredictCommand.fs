/// `mnist predict`: classify an image file (a drawing or a photo of a digit) or a test-set image by index.
module Mnist.Cli.PredictCommand

open System
open System.IO
open Argu
open Mnist.Core
open Mnist.Imaging
open Mnist.Core.Inference
open Mnist.Core.IO
open Mnist.Cli.Common

type PredictArgs =
    | [<Mandatory>] Model of path: string
    | Data_Dir of path: string
    | Device of device: string
    | [<MainCommand; Mandatory>] Input of image_or_index: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model file (.safetensors), or an ensemble (its folder or its ensemble.json)"
            | Data_Dir _ -> "MNIST folder, for a test-set index (default: MNIST_DATA, else the cache)"
            | Device _ -> deviceUsage
            | Input _ -> "an image file (PNG, JPEG, WebP, GIF or BMP, any size: a drawing or a photo of a digit on paper, prepared like MNIST) or the index of a test image"

/// The 28×28 image as text, darker characters for more ink.
let private asciiArt (pixels: float32[]) =
    let shades = " .:-=+*#%@"
    [ for y in 0..27 ->
          String [| for x in 0..27 -> shades[min 9 (int (pixels[y * 28 + x] * 10.0f))] |] ]
    |> String.concat "\n"

let private show (prediction: Prediction) (pixels: float32[]) =
    printfn "%s\n" (asciiArt pixels)
    prediction.Probabilities
    |> Array.mapi (fun digit p -> digit, p)
    |> Array.sortByDescending snd
    |> Array.take 3
    |> Array.iter (fun (digit, p) -> printfn "  %d  %s" digit (pct (float p)))
    printfn "prediction: %d (%s)" prediction.Digit (pct (float prediction.Confidence))

let run (args: ParseResults<PredictArgs>) =
    let loaded = ClassifierFile.Load(args.GetResult Model, openDevice (args.TryGetResult Device))
    let predictor = Predictor loaded.Classifier
    let input = args.GetResult Input
    match Int32.TryParse input with
    | true, index ->
        let test = (loadData (args.TryGetResult Data_Dir)).Test
        require (index >= 0 && index < test.Count) $"test index must be between 0 and {test.Count - 1}, got {index}"
        let pixels = test.Image(index).ToArray() |> Array.map (fun b -> float32 b / 255.0f)
        let prediction = predictor.Predict(ReadOnlySpan pixels)
        show prediction pixels
        printfn "label: %d" test.Labels[index]
        0
    | _ ->
        require (File.Exists input) $"no such file: {input}"
        let digit = ImageDecoder.PrepareDigitFile(input, ImageLimits.Default)
        if digit.IsEmpty then
            printfn "no digit found in %s: draw a digit" input
            1
        else
            show (predictor.Predict(ReadOnlySpan digit.Pixels)) digit.Pixels
            0
