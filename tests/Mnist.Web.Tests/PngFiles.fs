/// PNG files for tests: digits drawn the way a person would, and broken or hostile files.
module Mnist.Web.Tests.PngFiles

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open System.Text
open Mnist.Core.Imaging

let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n
        for _ in 1..8 do c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
        c)

let crc32 (bytes: byte[]) =
    let mutable c = 0xFFFFFFFFu
    for b in bytes do c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)
    c ^^^ 0xFFFFFFFFu

let private signature = [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]

let chunk (kind: string) (data: byte[]) =
    let typed = Array.append (Encoding.ASCII.GetBytes kind) data
    let length = Array.zeroCreate 4
    BinaryPrimitives.WriteInt32BigEndian(Span length, data.Length)
    let crc = Array.zeroCreate 4
    BinaryPrimitives.WriteUInt32BigEndian(Span crc, crc32 typed)
    Array.concat [ length; typed; crc ]

/// IHDR for an 8-bit greyscale image of the given size.
let ihdr (width: int) (height: int) =
    let data = Array.zeroCreate 13
    BinaryPrimitives.WriteInt32BigEndian(Span(data, 0, 4), width)
    BinaryPrimitives.WriteInt32BigEndian(Span(data, 4, 4), height)
    data[8] <- 8uy
    chunk "IHDR" data

let zlib (bytes: byte[]) =
    use out = new MemoryStream()
    (use z = new ZLibStream(out, CompressionLevel.Optimal, true)
     z.Write(bytes, 0, bytes.Length))
    out.ToArray()

let png (width: int) (height: int) (idat: byte[]) = Array.concat [ signature; ihdr width height; chunk "IDAT" idat; chunk "IEND" [||] ]

/// A file claiming 100000×100000 pixels: refused from its header, before anything is inflated.
let hugeHeader () = png 100000 100000 (zlib (Array.zeroCreate 1024))

/// A small file inflating to 64 MB for a 1000×1000 image that needs 1 MB: a decompression bomb.
let inflationBomb () = png 1000 1000 (zlib (Array.zeroCreate (64 <<< 20)))

/// A white 280×280 canvas, nothing drawn.
let blankCanvas () = PngEncoder.Encode(PngImage(280, 280, PngPixelFormat.Grey, Array.create (280 * 280) 255uy))

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
    PngEncoder.Encode(PngImage(side, side, PngPixelFormat.Grey, bytes), PngFilterChoice.None, CompressionLevel.Fastest)
