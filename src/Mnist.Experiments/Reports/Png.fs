/// A minimal PNG encoder for 8-bit greyscale images (the worst-mistake thumbnails), so reports can
/// inline them as data URIs without an imaging library.
module Mnist.Experiments.Reports.Png

open System
open System.IO
open System.IO.Compression

let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n
        for _ in 0 .. 7 do
            c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
        c)

/// CRC-32 (ISO 3309), as PNG chunks carry.
let crc32 (bytes: ReadOnlySpan<byte>) =
    let mutable c = 0xFFFFFFFFu
    for b in bytes do
        c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)
    c ^^^ 0xFFFFFFFFu

let private writeBigEndian (stream: Stream) (value: uint32) =
    stream.WriteByte(byte (value >>> 24))
    stream.WriteByte(byte (value >>> 16))
    stream.WriteByte(byte (value >>> 8))
    stream.WriteByte(byte value)

let private chunk (stream: Stream) (kind: string) (data: byte[]) =
    writeBigEndian stream (uint32 data.Length)
    let body = Array.append (Text.Encoding.ASCII.GetBytes kind) data
    stream.Write(body, 0, body.Length)
    writeBigEndian stream (crc32 (ReadOnlySpan body))

/// PNG bytes of a greyscale image given row-major, one byte per pixel (0 black, 255 white).
let greyscale (width: int) (height: int) (pixels: ReadOnlySpan<byte>) =
    if width < 1 || height < 1 || pixels.Length <> width * height then
        invalidArg "pixels" $"expected {width}×{height} pixels, got {pixels.Length}"
    use output = new MemoryStream()
    output.Write([| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |], 0, 8)
    use header = new MemoryStream()
    writeBigEndian header (uint32 width)
    writeBigEndian header (uint32 height)
    header.Write([| 8uy; 0uy; 0uy; 0uy; 0uy |], 0, 5) // bit depth 8, greyscale, deflate, no filter, no interlace
    chunk output "IHDR" (header.ToArray())
    let raw = Array.zeroCreate<byte> ((width + 1) * height)
    for y in 0 .. height - 1 do
        raw[y * (width + 1)] <- 0uy // filter type: none
        pixels.Slice(y * width, width).CopyTo(raw.AsSpan(y * (width + 1) + 1))
    use compressed = new MemoryStream()
    do
        use zlib = new ZLibStream(compressed, CompressionLevel.Optimal, true)
        zlib.Write(raw, 0, raw.Length)
    chunk output "IDAT" (compressed.ToArray())
    chunk output "IEND" [||]
    output.ToArray()

let dataUri (png: byte[]) = "data:image/png;base64," + Convert.ToBase64String png
