/// Drawings for tests: digits drawn on the page's canvas the way a person would, as PNG files.
module Mnist.Web.Tests.Drawings

open System
open Mnist.Core.Imaging
open Mnist

/// A white 280×280 canvas, nothing drawn.
let blankCanvas () = TestImages.png (PixelImage(280, 280, PixelLayout.Grey, Array.create (280 * 280) 255uy))

/// An MNIST digit (ink 1) scaled up 10× with bilinear interpolation and drawn black on white,
/// as a 280×280 greyscale PNG: what a person's drawing on the page looks like to the server.
let drawnDigit (pixels: float32[]) =
    let size, scale = 28, 10
    let side = size * scale
    let at x y = if x < 0 || y < 0 || x >= size || y >= size then 0.0f else pixels[y * size + x]
    let bytes = Array.zeroCreate (side * side)
    for y in 0 .. side - 1 do
        let sy = (float32 y + 0.5f) / float32 scale - 0.5f
        let y0 = int (floor sy)
        let fy = sy - float32 y0
        for x in 0 .. side - 1 do
            let sx = (float32 x + 0.5f) / float32 scale - 0.5f
            let x0 = int (floor sx)
            let fx = sx - float32 x0
            let ink =
                (1.0f - fy) * ((1.0f - fx) * at x0 y0 + fx * at (x0 + 1) y0)
                + fy * ((1.0f - fx) * at x0 (y0 + 1) + fx * at (x0 + 1) (y0 + 1))
            bytes[y * side + x] <- byte (255.0f - MathF.Round(Math.Clamp(ink, 0.0f, 1.0f) * 255.0f))
    TestImages.png (PixelImage(side, side, PixelLayout.Grey, bytes))
