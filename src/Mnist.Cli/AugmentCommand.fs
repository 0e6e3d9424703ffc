/// `mnist augment`: the augmentation spec the options describe, and with --show a picture of
/// real training digits next to augmented variants of each — what the network trains on.
module Mnist.Cli.AugmentCommand

open System
open System.IO
open Argu
open Mnist.Core
open Mnist.Core.Augmentation
open Mnist.Cli.Common

type AugmentArgs =
    | Show
    | Out of path: string
    | Seed of seed: uint64
    | Variants of count: int
    | Preset of name: string
    | Rotation of degrees: float32
    | Scale of fraction: float32
    | Shear of degrees: float32
    | Translate of fraction: float32
    | Elastic_Alpha of pixels: float32
    | Elastic_Sigma of pixels: float32
    | Data_Dir of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Show -> "draw real training digits and augmented variants of each into a PNG"
            | Out _ -> "the PNG to write (default augment.png)"
            | Seed _ -> "random seed of the variants (default 1)"
            | Variants _ -> "augmented variants per digit (default 8)"
            | Preset _ -> $"""the ranges to start from: {String.concat ", " AugmentationSpec.Names} (default standard); the options below override them"""
            | Rotation _ -> "rotation range in degrees, ± (standard 10)"
            | Scale _ -> "zoom range as a fraction, ± (standard 0.1)"
            | Shear _ -> "shear range in degrees, ± (standard 10)"
            | Translate _ -> "shift range as a fraction of the image size, ± (standard 0.1)"
            | Elastic_Alpha _ -> "elastic distortion strength in pixels (0: off; Simard's 34)"
            | Elastic_Sigma _ -> "elastic field smoothness in pixels (Simard's 4)"
            | Data_Dir _ -> "MNIST folder (default: MNIST_DATA, else the per-user cache)"

/// The spec the arguments describe (validated).
let specOf (args: ParseResults<AugmentArgs>) =
    let preset = AugmentationSpec.Named(args.GetResult(Preset, "standard"))
    AugmentationSpec(
        Rotation = args.GetResult(Rotation, preset.Rotation), Scale = args.GetResult(Scale, preset.Scale),
        Shear = args.GetResult(Shear, preset.Shear), Translate = args.GetResult(Translate, preset.Translate),
        ElasticAlpha = args.GetResult(Elastic_Alpha, preset.ElasticAlpha),
        ElasticSigma = args.GetResult(Elastic_Sigma, preset.ElasticSigma)).Validate()

// Layout of the picture, in image pixels before it is scaled up.
let private gap, originalGap, background, zoom = 1, 4, 0.3f, 3

/// One row per digit 0..9 (its first training image): the original, a wider gap, then the
/// variants, each the augmentation of epoch k (k = 1, 2, ...) at batch 0, position = the digit.
let private grid (split: Data.MnistSplit) (spec: AugmentationSpec) (seed: uint64) (variants: int) =
    let h, w = split.Height, split.Width
    let rows = [| for digit in 0uy .. 9uy -> Array.IndexOf(split.Labels, digit) |] |> Array.filter (fun i -> i >= 0)
    let columns = 1 + variants
    let canvasW = columns * w + (columns - 2) * gap + originalGap
    let canvasH = rows.Length * h + (rows.Length - 1) * gap
    let canvas = Array.create (canvasW * canvasH) background
    let augmenter = Augmenter(spec, h, w)
    let cell = Array.zeroCreate<float32> (h * w)
    for row, index in Array.indexed rows do
        let image = split.Image index
        for column in 0 .. columns - 1 do
            if column = 0 then
                for p in 0 .. cell.Length - 1 do cell[p] <- float32 image[p] / 255.0f
            else
                let key = AugmentationKey.For(seed, column, 0, row)
                augmenter.Augment(image, key, Augmenter.Unit, Span cell)
            let left = if column = 0 then 0 else w + originalGap + (column - 1) * (w + gap)
            let top = row * (h + gap)
            for y in 0 .. h - 1 do
                Array.blit cell (y * w) canvas ((top + y) * canvasW + left) w
    canvas, canvasW, canvasH, rows.Length

let run (args: ParseResults<AugmentArgs>) =
    let spec = specOf args
    if not (args.Contains Show) then
        printfn "%s" (spec.ToJson())
    else
        let variants = args.GetResult(Variants, 8)
        require (variants >= 1 && variants <= 50) $"variants must be between 1 and 50, got {variants}"
        let out = args.GetResult(Out, "augment.png")
        let train = (loadData (args.TryGetResult Data_Dir)).Train
        let canvas, width, height, digits = grid train spec (args.GetResult(Seed, 1UL)) variants
        let png = Mnist.Imaging.GreyPng.EncodeUnit(ReadOnlySpan canvas, width, height, zoom)
        try
            let folder = Path.GetDirectoryName(Path.GetFullPath out)
            Directory.CreateDirectory folder |> ignore
            File.WriteAllBytes(out, png)
        with
        | :? IOException | :? UnauthorizedAccessException as e -> raise (MnistException $"cannot write {out}: {e.Message}")
        printfn "wrote %s: %d digits, each first as it is, then %d augmented variants (%O)" out digits variants spec
    0
