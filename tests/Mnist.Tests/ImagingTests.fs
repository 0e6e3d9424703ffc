module Mnist.Tests.ImagingTests

open System
open System.IO
open System.IO.Compression
open Expecto
open Mnist.Core.Data
open Mnist.Core.Imaging
open Mnist.Tests.TestData

/// A PNG writer of the test's own (bitwise CRC, its own packing and filters), independent of
/// PngEncoder, so hand-built files can use every colour type, bit depth, filter and Adam7.
module private HandPng =
    let crc (bytes: byte[]) =
        let mutable c = 0xFFFFFFFFu
        for b in bytes do
            c <- c ^^^ uint32 b
            for _ in 1 .. 8 do c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
        c ^^^ 0xFFFFFFFFu

    let be32 (v: uint32) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]
    let signature = [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]

    /// A chunk with the given CRC (None: the correct one).
    let chunkWithCrc (typ: string) (data: byte[]) (crcOverride: uint32 option) =
        let body = Array.append (Text.Encoding.ASCII.GetBytes typ) data
        Array.concat [ be32 (uint32 data.Length); body; be32 (defaultArg crcOverride (crc body)) ]

    let chunk typ data = chunkWithCrc typ data None

    let ihdrData (w: uint32) (h: uint32) depth colorType interlace =
        Array.concat [ be32 w; be32 h; [| byte depth; byte colorType; 0uy; 0uy; byte interlace |] ]

    let ihdr w h depth colorType interlace = chunk "IHDR" (ihdrData (uint32 w) (uint32 h) depth colorType interlace)
    let iend = chunk "IEND" [||]
    let file (chunks: byte[] list) = Array.concat (signature :: chunks)

    let zlib (raw: byte[]) =
        use buffer = new MemoryStream()
        (use z = new ZLibStream(buffer, CompressionLevel.Optimal) in z.Write(raw, 0, raw.Length))
        buffer.ToArray()

    let packRow depth (samples: int[]) =
        let bytes = Array.zeroCreate ((samples.Length * depth + 7) / 8)
        for i in 0 .. samples.Length - 1 do
            let s = samples.[i]
            match depth with
            | 16 -> bytes.[2 * i] <- byte (s >>> 8); bytes.[2 * i + 1] <- byte s
            | 8 -> bytes.[i] <- byte s
            | d ->
                let bit = i * d
                bytes.[bit / 8] <- bytes.[bit / 8] ||| byte (s <<< (8 - d - bit % 8))
        bytes

    let paeth a b c =
        let p = a + b - c
        let pa, pb, pc = abs (p - a), abs (p - b), abs (p - c)
        if pa <= pb && pa <= pc then a elif pb <= pc then b else c

    let filterRow filter bpp (row: byte[]) (prev: byte[]) =
        Array.init row.Length (fun i ->
            let a = if i >= bpp then int row.[i - bpp] else 0
            let b = int prev.[i]
            let c = if i >= bpp then int prev.[i - bpp] else 0
            let prediction =
                match filter with
                | 0 -> 0
                | 1 -> a
                | 2 -> b
                | 3 -> (a + b) / 2
                | _ -> paeth a b c
            byte ((int row.[i] - prediction) &&& 0xFF))

    let adam7 = [ 0, 0, 8, 8; 4, 0, 8, 8; 0, 4, 4, 8; 2, 0, 4, 4; 0, 2, 2, 4; 1, 0, 2, 2; 0, 1, 1, 2 ]

    /// The filtered scanlines (before zlib) of an image whose pixel (x, y) has samples `pixel x y`;
    /// filter types cycle 0,1,2,3,4 from row to row so every filter is used.
    let scanlines w h depth spp interlace (pixel: int -> int -> int[]) =
        let bpp = max 1 (spp * depth / 8)
        let out = ResizeArray<byte>()
        let mutable rowIndex = 0
        for (xs, ys, dx, dy) in (if interlace then adam7 else [ 0, 0, 1, 1 ]) do
            let pw = if w > xs then (w - xs + dx - 1) / dx else 0
            let ph = if h > ys then (h - ys + dy - 1) / dy else 0
            if pw > 0 && ph > 0 then
                let mutable prev = Array.zeroCreate ((pw * spp * depth + 7) / 8)
                for py in 0 .. ph - 1 do
                    let row = packRow depth [| for px in 0 .. pw - 1 do yield! pixel (xs + px * dx) (ys + py * dy) |]
                    let filter = rowIndex % 5
                    out.Add(byte filter)
                    out.AddRange(filterRow filter bpp row prev)
                    prev <- row
                    rowIndex <- rowIndex + 1
        out.ToArray()

/// A sample scaled to 8 bits the way the PNG spec describes (exact for 1/2/4 bits, rounded for 16).
let private to8 depth (v: int) = byte (Math.Round(float v * 255.0 / float ((1 <<< depth) - 1)))

let private codeOf (bytes: byte[]) =
    try
        PngDecoder.Decode bytes |> ignore
        "accepted"
    with :? PngFormatException as e -> e.Code

/// A valid 4x4 8-bit grey file, from its parts.
let private grey4x4Idat = HandPng.chunk "IDAT" (HandPng.zlib (HandPng.scanlines 4 4 8 1 false (fun x y -> [| x * 60 + y |])))
let private grey4x4 = HandPng.file [ HandPng.ihdr 4 4 8 0 0; grey4x4Idat; HandPng.iend ]

/// Allocated bytes on this thread while f runs, with f's result.
let private allocatedBy f =
    let before = GC.GetAllocatedBytesForCurrentThread()
    let result = f ()
    GC.GetAllocatedBytesForCurrentThread() - before, result

let private decodingTests =
    testList "decoding" [
        test "CRC-32 matches the standard check value and the test's bitwise CRC" {
            let data = Text.Encoding.ASCII.GetBytes "123456789"
            Expect.equal (Crc32.Compute(ReadOnlySpan data)) 0xCBF43926u "check value"
            let random = Array.init 1000 (fun i -> byte (i * 7919 % 251))
            Expect.equal (Crc32.Compute(ReadOnlySpan random)) (HandPng.crc random) "agrees"
        }

        test "a 1x1 RGBA file from another encoder decodes" {
            let png = Convert.FromBase64String "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
            let image = PngDecoder.Decode png
            Expect.equal (image.Width, image.Height, image.Format) (1, 1, PngPixelFormat.Rgba) "shape"
            Expect.equal image.Pixels [| 255uy; 0uy; 0uy; 127uy |] "pixel"
        }

        for format in [ PngPixelFormat.Grey; PngPixelFormat.GreyAlpha; PngPixelFormat.Rgb; PngPixelFormat.Rgba ] do
            for filters in [ PngFilterChoice.None; PngFilterChoice.Adaptive ] do
                test $"encoder round trip {format} ({filters})" {
                    let rng = Random 11
                    let w, h, c = 13, 7, int format
                    // smooth areas and noise, so adaptive filtering picks several filter types
                    let pixels = Array.init (w * h * c) (fun i -> if i % 3 = 0 then byte (rng.Next 256) else byte (i / c % w * 9))
                    let png = PngEncoder.Encode(PngImage(w, h, format, pixels), filters)
                    let back = PngDecoder.Decode png
                    Expect.equal (back.Width, back.Height) (w, h) "size"
                    let withAlpha = if format = PngPixelFormat.Grey || format = PngPixelFormat.GreyAlpha then 2 else 4
                    Expect.equal back.Channels withAlpha "decoded channels"
                    for p in 0 .. w * h - 1 do
                        for ch in 0 .. withAlpha - 1 do
                            let expected = if ch < c then pixels.[p * c + ch] else 255uy
                            if back.Pixels.[p * withAlpha + ch] <> expected then
                                failtestf "pixel %d channel %d: %d, expected %d" p ch back.Pixels.[p * withAlpha + ch] expected
                }

        // every colour type with every bit depth it allows, plain and interlaced, several sizes
        let combos = [ 0, [ 1; 2; 4; 8; 16 ]; 2, [ 8; 16 ]; 3, [ 1; 2; 4; 8 ]; 4, [ 8; 16 ]; 6, [ 8; 16 ] ]
        for colorType, depths in combos do
            for depth in depths do
                for interlace in [ false; true ] do
                    test $"hand-built colour type {colorType}, {depth}-bit, interlaced={interlace}" {
                        let rng = Random(colorType * 100 + depth)
                        for w, h in [ 1, 1; 3, 5; 9, 10; 17, 13 ] do
                            let spp = match colorType with 0 | 3 -> 1 | 4 -> 2 | 2 -> 3 | _ -> 4
                            let paletteCount = min 256 (1 <<< depth) - (if depth > 1 then 1 else 0)
                            let maxSample = if colorType = 3 then paletteCount else 1 <<< depth
                            let samples = Array.init (w * h) (fun _ -> Array.init spp (fun _ -> rng.Next maxSample))
                            let palette = Array.init paletteCount (fun i -> [| byte (i * 3); byte (255 - i); byte (i * 7) |])
                            let alphas = Array.init (paletteCount / 2) (fun i -> byte (i * 5 + 1))
                            let raw = HandPng.scanlines w h depth spp interlace (fun x y -> samples.[y * w + x])
                            let extra =
                                if colorType = 3 then
                                    [ HandPng.chunk "PLTE" (Array.concat palette); HandPng.chunk "tRNS" alphas ]
                                else []
                            let idat = HandPng.zlib raw
                            // split the zlib stream over two IDAT chunks, with an ancillary chunk before them
                            let half = idat.Length / 2
                            let png =
                                HandPng.file (
                                    [ HandPng.ihdr w h depth colorType (if interlace then 1 else 0)
                                      HandPng.chunk "tEXt" (Text.Encoding.ASCII.GetBytes "Comment\000test") ]
                                    @ extra
                                    @ [ HandPng.chunk "IDAT" idat.[.. half - 1]; HandPng.chunk "IDAT" idat.[half ..]; HandPng.iend ])
                            let image = PngDecoder.Decode png
                            Expect.equal (image.Width, image.Height) (w, h) "size"
                            Expect.equal image.Source.Value.Interlaced interlace "interlace flag"
                            let expected =
                                [| for s in samples do
                                       match colorType with
                                       | 0 -> yield to8 depth s.[0]; yield 255uy
                                       | 4 -> yield to8 depth s.[0]; yield to8 depth s.[1]
                                       | 2 -> yield! s |> Array.map (to8 depth); yield 255uy
                                       | 6 -> yield! s |> Array.map (to8 depth)
                                       | _ ->
                                           yield! palette.[s.[0]]
                                           yield (if s.[0] < alphas.Length then alphas.[s.[0]] else 255uy) |]
                            Expect.equal image.Pixels expected $"pixels of {w}x{h}"
                    }

        for depth in [ 1; 2; 4; 8; 16 ] do
            test $"grey tRNS key makes matching pixels transparent ({depth}-bit)" {
                let w, h = 11, 6
                let values = Array.init (w * h) (fun i -> (i * 37) % (1 <<< depth))
                let key = values.[5]
                let raw = HandPng.scanlines w h depth 1 false (fun x y -> [| values.[y * w + x] |])
                let png =
                    HandPng.file [ HandPng.ihdr w h depth 0 0
                                   HandPng.chunk "tRNS" [| byte (key >>> 8); byte key |]
                                   HandPng.chunk "IDAT" (HandPng.zlib raw); HandPng.iend ]
                let image = PngDecoder.Decode png
                for i in 0 .. w * h - 1 do
                    Expect.equal image.Pixels.[2 * i + 1] (if values.[i] = key then 0uy else 255uy) $"alpha {i}"
            }

        for depth in [ 8; 16 ] do
            test $"RGB tRNS key makes matching pixels transparent ({depth}-bit)" {
                let w, h = 5, 4
                let colour x y = [| (x * 50) % (1 <<< depth); (y * 999) % (1 <<< depth); 7 |]
                let key = colour 2 1
                let raw = HandPng.scanlines w h depth 3 true colour
                let trns = [| for k in key do yield byte (k >>> 8); yield byte k |]
                let png =
                    HandPng.file [ HandPng.ihdr w h depth 2 1; HandPng.chunk "tRNS" trns
                                   HandPng.chunk "IDAT" (HandPng.zlib raw); HandPng.iend ]
                let image = PngDecoder.Decode png
                for y in 0 .. h - 1 do
                    for x in 0 .. w - 1 do
                        let transparent = colour x y = key
                        Expect.equal image.Pixels.[(y * w + x) * 4 + 3] (if transparent then 0uy else 255uy) $"alpha ({x},{y})"
            }

        test "files: decoded from disk, missing or bad ones named in the error" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "digit.png")
            PngEncoder.WriteFile(path, PngImage(3, 2, PngPixelFormat.Rgb, Array.init 18 byte))
            let image = PngDecoder.DecodeFile path
            Expect.equal image.Pixels [| for p in 0 .. 5 do yield! [| byte (3 * p); byte (3 * p + 1); byte (3 * p + 2); 255uy |] |] "pixels"
            let missing = throws<Mnist.Core.MnistException> (fun () -> PngDecoder.DecodeFile(Path.Combine(dir.Path, "none.png")) |> ignore)
            Expect.stringContains missing.Message "none.png" "names the missing file"
            let bad = Path.Combine(dir.Path, "bad.png")
            File.WriteAllBytes(bad, grey4x4.[.. 20])
            let e = throws<PngFormatException> (fun () -> PngDecoder.DecodeFile bad |> ignore)
            Expect.equal e.Code "truncated" "code"
            Expect.stringContains e.Message "bad.png" "names the bad file"
        }

        test "thumbnails of [0,1] images: scaled blocks, either polarity" {
            let values = [| 0f; 0.5f; 1f; 2f |] // 2 is clamped to 1
            let png = PngEncoder.EncodeUnitGrey(ReadOnlySpan values, 2, 2, scale = 3, darkInk = true)
            let image = PngDecoder.Decode png
            Expect.equal (image.Width, image.Height) (6, 6) "scaled size"
            let greyAt x y = image.Pixels.[(y * 6 + x) * 2]
            Expect.equal [ greyAt 0 0; greyAt 5 0; greyAt 2 5; greyAt 5 5 ] [ 255uy; 127uy; 0uy; 0uy ] "dark ink, nearest blocks"
            let plain = PngImage.FromUnitGrey(ReadOnlySpan values, 2, 2)
            Expect.equal plain.Pixels [| 0uy; 128uy; 255uy; 255uy |] "bright ink, rounded"
        }

        test "data URL round trip, and refusals of other URLs" {
            let png = PngEncoder.Encode(PngImage(2, 1, PngPixelFormat.Grey, [| 0uy; 200uy |]))
            let image = PngDataUrl.Decode(PngEncoder.ToDataUrl png)
            Expect.equal image.Pixels [| 0uy; 255uy; 200uy; 255uy |] "pixels"
            let code url =
                try PngDataUrl.Decode(url: string) |> ignore; "accepted"
                with :? PngFormatException as e -> e.Code
            Expect.equal (code "data:image/jpeg;base64,AAAA") "not_png" "jpeg"
            Expect.equal (code "data:image/png;base64,@@@@") "bad_data" "base64"
            let big = "data:image/png;base64," + String('A', 4000)
            Expect.equal (try PngDataUrl.ToBytes(big, 1000) |> ignore; "accepted" with :? PngFormatException as e -> e.Code) "too_large" "size"
        }
    ]

let private malformedTests =
    let ihdr = HandPng.ihdr 4 4 8 0 0
    let iend = HandPng.iend
    let file = HandPng.file
    let chunk = HandPng.chunk
    let badAdler =
        let z = HandPng.zlib (Array.zeroCreate 20)
        z.[z.Length - 1] <- z.[z.Length - 1] ^^^ 1uy
        z
    let rgbIdat w h = chunk "IDAT" (HandPng.zlib (HandPng.scanlines w h 8 3 false (fun _ _ -> [| 1; 2; 3 |])))
    let cases =
        [ "not_png", "a JPEG", [| 0xFFuy; 0xD8uy; 0xFFuy; 0xE0uy; 0uy; 0x10uy; 0x4Auy; 0x46uy; 0x49uy; 0x46uy |]
          "not_png", "empty text", Text.Encoding.ASCII.GetBytes "hello, this is not an image"
          "truncated", "half a signature", grey4x4.[.. 3]
          "truncated", "cut inside IDAT", grey4x4.[.. grey4x4.Length - 20]
          "truncated", "no IEND", file [ ihdr; grey4x4Idat ]
          "truncated", "chunk length beyond the file", file [ ihdr; HandPng.be32 1000u; "IDAT"B; Array.zeroCreate 20 ]
          "bad_crc", "IDAT CRC wrong", file [ ihdr; HandPng.chunkWithCrc "IDAT" [| 1uy |] (Some 1234u); iend ]
          "bad_crc", "IHDR CRC wrong", file [ HandPng.chunkWithCrc "IHDR" (HandPng.ihdrData 4u 4u 8 0 0) (Some 0u); grey4x4Idat; iend ]
          "bad_crc", "ancillary CRC wrong", file [ ihdr; HandPng.chunkWithCrc "tEXt" [| 65uy |] (Some 0u); grey4x4Idat; iend ]
          "bad_chunk", "IDAT before IHDR", file [ grey4x4Idat; ihdr; iend ]
          "bad_chunk", "IHDR of 12 bytes", file [ chunk "IHDR" (HandPng.ihdrData 4u 4u 8 0 0).[.. 11]; grey4x4Idat; iend ]
          "bad_chunk", "two IHDRs", file [ ihdr; ihdr; grey4x4Idat; iend ]
          "bad_chunk", "IDATs not consecutive", file [ ihdr; grey4x4Idat; chunk "tEXt" [| 65uy |]; grey4x4Idat; iend ]
          "bad_chunk", "no IDAT", file [ ihdr; iend ]
          "bad_chunk", "IEND with data", file [ ihdr; grey4x4Idat; chunk "IEND" [| 0uy |] ]
          "bad_chunk", "chunk type with a digit", file [ ihdr; chunk "tE1t" [||]; grey4x4Idat; iend ]
          "bad_chunk", "chunk length over 2^31-1", file [ ihdr; HandPng.be32 0x80000000u; "IDAT"B; Array.zeroCreate 8 ]
          "bad_chunk", "palette image without PLTE", file [ HandPng.ihdr 4 4 8 3 0; grey4x4Idat; iend ]
          "bad_chunk", "PLTE in a grey image", file [ ihdr; chunk "PLTE" [| 1uy; 2uy; 3uy |]; grey4x4Idat; iend ]
          "bad_chunk", "PLTE not a multiple of 3", file [ HandPng.ihdr 4 4 8 3 0; chunk "PLTE" [| 1uy; 2uy |]; grey4x4Idat; iend ]
          "bad_chunk", "PLTE larger than 1-bit indices reach", file [ HandPng.ihdr 4 4 1 3 0; chunk "PLTE" (Array.zeroCreate 9); grey4x4Idat; iend ]
          "bad_chunk", "PLTE after IDAT", file [ HandPng.ihdr 4 4 8 2 0; rgbIdat 4 4; chunk "PLTE" [| 1uy; 2uy; 3uy |]; iend ]
          "bad_chunk", "tRNS in an RGBA image", file [ HandPng.ihdr 4 4 8 6 0; chunk "tRNS" (Array.zeroCreate 6); grey4x4Idat; iend ]
          "bad_chunk", "tRNS of the wrong length", file [ ihdr; chunk "tRNS" [| 0uy |]; grey4x4Idat; iend ]
          "bad_chunk", "tRNS before PLTE", file [ HandPng.ihdr 4 4 8 3 0; chunk "tRNS" [| 0uy |]; chunk "PLTE" [| 1uy; 2uy; 3uy |]; grey4x4Idat; iend ]
          "bad_chunk", "tRNS longer than the palette", file [ HandPng.ihdr 4 4 8 3 0; chunk "PLTE" [| 1uy; 2uy; 3uy |]; chunk "tRNS" [| 0uy; 0uy |]; grey4x4Idat; iend ]
          "bad_header", "width 0", file [ HandPng.ihdr 0 4 8 0 0; grey4x4Idat; iend ]
          "bad_header", "width over 2^31-1", file [ chunk "IHDR" (HandPng.ihdrData 0x80000000u 1u 8 0 0); grey4x4Idat; iend ]
          "bad_header", "grey at 3 bits", file [ HandPng.ihdr 4 4 3 0 0; grey4x4Idat; iend ]
          "bad_header", "RGB at 4 bits", file [ HandPng.ihdr 4 4 4 2 0; grey4x4Idat; iend ]
          "bad_header", "palette at 16 bits", file [ HandPng.ihdr 4 4 16 3 0; grey4x4Idat; iend ]
          "bad_header", "colour type 5", file [ HandPng.ihdr 4 4 8 5 0; grey4x4Idat; iend ]
          "bad_header", "compression method 1", file [ chunk "IHDR" (Array.concat [ HandPng.be32 4u; HandPng.be32 4u; [| 8uy; 0uy; 1uy; 0uy; 0uy |] ]); grey4x4Idat; iend ]
          "bad_header", "filter method 1", file [ chunk "IHDR" (Array.concat [ HandPng.be32 4u; HandPng.be32 4u; [| 8uy; 0uy; 0uy; 1uy; 0uy |] ]); grey4x4Idat; iend ]
          "bad_header", "interlace method 2", file [ HandPng.ihdr 4 4 8 0 2; grey4x4Idat; iend ]
          "unsupported", "unknown critical chunk", file [ ihdr; chunk "XYZW" [||]; grey4x4Idat; iend ]
          "too_large", "over the pixel limit", file [ HandPng.ihdr 5000 5000 8 0 0; grey4x4Idat; iend ]
          "too_large", "over the side limit", file [ HandPng.ihdr 20000 1 8 0 0; grey4x4Idat; iend ]
          "bad_data", "not zlib", file [ ihdr; chunk "IDAT" [| 1uy; 2uy; 3uy; 4uy; 5uy; 6uy |]; iend ]
          "bad_data", "too little data", file [ ihdr; chunk "IDAT" (HandPng.zlib (Array.zeroCreate 19)); iend ]
          "bad_data", "filter type 5", file [ HandPng.ihdr 1 1 8 0 0; chunk "IDAT" (HandPng.zlib [| 5uy; 0uy |]); iend ]
          "bad_data", "palette index past the palette", file [ HandPng.ihdr 1 1 8 3 0; chunk "PLTE" [| 1uy; 2uy; 3uy |]; chunk "IDAT" (HandPng.zlib [| 0uy; 1uy |]); iend ]
          "bad_data", "wrong Adler-32", file [ ihdr; chunk "IDAT" badAdler; iend ]
          "too_large", "more data than IHDR implies", file [ ihdr; chunk "IDAT" (HandPng.zlib (Array.zeroCreate 21)); iend ] ]
    testList "malformed" [
        for code, name, bytes in cases do
            test $"{name} is refused as {code}" {
                try
                    PngDecoder.Decode(bytes: byte[]) |> ignore
                    failtest "accepted"
                with :? PngFormatException as e ->
                    Expect.equal e.Code code $"code (message: {e.Message})"
                    Expect.isTrue (e :> exn :? Mnist.Core.MnistException) "a MnistException"
                    Expect.isNotEmpty e.Problem "message"
            }

        test "the base file of the malformed cases is valid" {
            Expect.equal (codeOf grey4x4) "accepted" "valid"
        }

        test "a caller's limit is applied before decoding" {
            let png = PngEncoder.Encode(PngImage(300, 300, PngPixelFormat.Grey, Array.zeroCreate 90000))
            let limits = PngLimits(MaxPixels = 200L * 200L)
            let e = throws<PngFormatException> (fun () -> PngDecoder.Decode(png, limits) |> ignore)
            Expect.equal e.Code "too_large" "code"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> PngLimits(MaxPixels = PngLimits.HardMaxPixels + 1L) |> ignore) "hard cap"
        }

        test "a 100000x100000 header is refused before anything is allocated" {
            let idat = HandPng.chunk "IDAT" (HandPng.zlib (Array.zeroCreate 1000))
            let png = HandPng.file [ HandPng.ihdr 100000 100000 8 6 0; idat; HandPng.iend ]
            let allocated, code = allocatedBy (fun () -> codeOf png)
            Expect.equal code "too_large" "code"
            printfn "100000x100000 bomb (%d-byte file): refused after %d bytes allocated" png.Length allocated
            Expect.isLessThan allocated (64L <<< 20) "allocation"
        }

        test "image data inflating far past the header is cut off at the header's size" {
            // 64x64 grey expects 64 × 65 bytes; the IDAT inflates to 256 MiB of zeros
            let compressed =
                use buffer = new MemoryStream()
                (use z = new ZLibStream(buffer, CompressionLevel.Optimal)
                 let zeros = Array.zeroCreate (1 <<< 20)
                 for _ in 1 .. 256 do z.Write(zeros, 0, zeros.Length))
                buffer.ToArray()
            let png = HandPng.file [ HandPng.ihdr 64 64 8 0 0; HandPng.chunk "IDAT" compressed; HandPng.iend ]
            let clock = Diagnostics.Stopwatch.StartNew()
            let allocated, code = allocatedBy (fun () -> codeOf png)
            Expect.equal code "too_large" "code"
            printfn "inflation bomb (%d-byte file, 256 MiB inflated): refused in %d ms after %d bytes allocated"
                png.Length clock.ElapsedMilliseconds allocated
            Expect.isLessThan allocated (64L <<< 20) "allocation"
        }
    ]

// ---- preprocessing ----

/// An anti-aliased drawing: ink 1 within `thickness / 2` of any segment, fading over one pixel.
let private draw w h thickness (segments: (float * float * float * float) list) =
    Array.init (w * h) (fun i ->
        let px, py = float (i % w) + 0.5, float (i / w) + 0.5
        let distance (x0, y0, x1, y1) =
            let dx, dy = x1 - x0, y1 - y0
            let t = if dx = 0.0 && dy = 0.0 then 0.0 else Math.Clamp(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            Math.Sqrt((px - x0 - t * dx) ** 2.0 + (py - y0 - t * dy) ** 2.0)
        let d = segments |> List.map distance |> List.min
        Math.Clamp(thickness / 2.0 - d + 0.5, 0.0, 1.0))

/// A "7" and a "4" drawn off-centre on a 280 × 240 canvas.
let private seven = draw 280 240 14.0 [ 40.0, 30.0, 150.0, 30.0; 150.0, 30.0, 80.0, 200.0 ]
let private four = draw 280 240 10.0 [ 200.0, 60.0, 170.0, 150.0; 170.0, 150.0, 260.0, 150.0; 240.0, 90.0, 235.0, 220.0 ]

let private inkBytes (ink: float[]) = ink |> Array.map (fun v -> byte (Math.Round(v * 255.0)))

/// The same drawing in four encodings people send.
let private encodings w h (ink: float[]) =
    let b = inkBytes ink
    [ "white on black", PngImage(w, h, PngPixelFormat.Grey, b)
      "black on white", PngImage(w, h, PngPixelFormat.Grey, b |> Array.map (fun v -> 255uy - v))
      "black on transparent", PngImage(w, h, PngPixelFormat.Rgba, [| for v in b do yield! [| 0uy; 0uy; 0uy; v |] |])
      "blue on transparent", PngImage(w, h, PngPixelFormat.Rgba, [| for v in b do yield! [| 30uy; 60uy; 200uy; v |] |])
      "black on opaque white RGBA", PngImage(w, h, PngPixelFormat.Rgba, [| for v in b do let g = 255uy - v in yield! [| g; g; g; 255uy |] |]) ]

/// Centre of mass and ink box (any ink > 0) of a square image, computed here independently.
let private measure (pixels: float32[]) size =
    let mutable m, sx, sy = 0.0, 0.0, 0.0
    let mutable x0, y0, x1, y1 = size, size, -1, -1
    for y in 0 .. size - 1 do
        for x in 0 .. size - 1 do
            let v = float pixels.[y * size + x]
            m <- m + v; sx <- sx + v * float x; sy <- sy + v * float y
            if v > 0.0 then x0 <- min x0 x; x1 <- max x1 x; y0 <- min y0 y; y1 <- max y1 y
    (sx / m, sy / m), (x1 - x0 + 1, y1 - y0 + 1)

let private meanAbsDiff (a: float32[]) (b: float32[]) =
    let mutable s = 0.0
    for i in 0 .. a.Length - 1 do s <- s + abs (float a.[i] - float b.[i])
    s / float a.Length

/// A 28x28 MNIST digit as a black-on-white 280x280 grey image, upscaled 10x.
let private upscale10 (digit: byte[]) bilinear =
    let n = 280
    let source (x: int) (y: int) = if x < 0 || y < 0 || x > 27 || y > 27 then 0.0 else float digit.[y * 28 + x]
    let pixels = Array.zeroCreate (n * n)
    for y in 0 .. n - 1 do
        for x in 0 .. n - 1 do
            let v =
                if not bilinear then source (x / 10) (y / 10)
                else
                    let sx, sy = (float x + 0.5) / 10.0 - 0.5, (float y + 0.5) / 10.0 - 0.5
                    let x0, y0 = int (floor sx), int (floor sy)
                    let fx, fy = sx - float x0, sy - float y0
                    (1.0 - fy) * ((1.0 - fx) * source x0 y0 + fx * source (x0 + 1) y0)
                    + fy * ((1.0 - fx) * source x0 (y0 + 1) + fx * source (x0 + 1) (y0 + 1))
            pixels.[y * n + x] <- 255uy - byte (Math.Round v)
    PngImage(n, n, PngPixelFormat.Grey, pixels)

let private preprocessingTests =
    testList "preprocessing" [
        test "area resampling is exact for fractional coverage and keeps the ink's mass" {
            // columns [1 0 1] scaled by 2/3: each output pixel covers 1.5 inputs, one inked and half the blank one
            let square, w, h = AreaResampler.Resize(ReadOnlySpan [| for _ in 1 .. 3 do yield! [| 1f; 0f; 1f |] |], 3, 0, 0, 3, 3, 2, 3)
            Expect.equal (w, h) (2, 2) "size"
            for v in square do Expect.floatClose Accuracy.medium (float v) (2.0 / 3.0) "each pixel"
            // one row scaled by 2/3 is 2/3 of a pixel tall: the output row is only 2/3 covered
            let row, rw, rh = AreaResampler.Resize(ReadOnlySpan [| 1f; 0f; 1f |], 3, 0, 0, 3, 1, 2, 3)
            Expect.equal (rw, rh) (2, 1) "row size"
            Expect.floatClose Accuracy.medium (float row.[0]) (4.0 / 9.0) "partly covered row"
            let rng = Random 3
            let source = Array.init (37 * 74) (fun _ -> float32 (rng.NextDouble()))
            let scaled, sw, sh = AreaResampler.Resize(ReadOnlySpan source, 37, 0, 0, 37, 74, 20, 74)
            Expect.equal (sw, sh) (10, 20) "37x74 to 20 on the long side"
            let ratio = float (Array.sum scaled) / float (Array.sum source)
            Expect.floatClose Accuracy.medium ratio ((20.0 / 74.0) ** 2.0) "mass scales with area"
        }

        test "a thin bar keeps its fractional coverage" {
            // 3 px wide, 200 tall: scaled by 1/10 it is 0.3 px wide, one column of 0.3
            let ink = Array.init (50 * 240) (fun i -> if i % 50 >= 20 && i % 50 < 23 && i / 50 >= 20 && i / 50 < 220 then 1f else 0f)
            let digit = DigitPreprocessor.Prepare(ReadOnlySpan ink, 50, 240)
            Expect.equal (digit.PlacedBox.Width, digit.PlacedBox.Height) (1, 20) "placed box"
            let column = [ for y in 0 .. 19 -> digit.Pixels.[(digit.PlacedBox.Y + y) * 28 + digit.PlacedBox.X] ]
            for v in column do Expect.floatClose Accuracy.medium (float v) 0.3 "coverage"
            Expect.floatClose Accuracy.medium (float (Array.sum digit.Pixels)) 6.0 "total ink"
        }

        test "a block keeps its aspect ratio" {
            let ink = Array.init (280 * 200) (fun i -> let x, y = i % 280, i / 280 in if x >= 37 && x < 137 && y >= 80 && y < 130 then 1f else 0f)
            let digit = DigitPreprocessor.Prepare(ReadOnlySpan ink, 280, 200)
            Expect.equal digit.InkBox (PixelBox(37, 80, 100, 50)) "ink box"
            Expect.equal (digit.PlacedBox.Width, digit.PlacedBox.Height) (20, 10) "scaled to 20x10"
            Expect.floatClose Accuracy.high (float (Array.sum digit.Pixels)) 200.0 "fully inked"
        }

        for name, ink in [ "seven", seven; "four", four ] do
            test $"the {name} is framed like MNIST" {
                let digit = DigitPreprocessor.Prepare(PngImage(280, 240, PngPixelFormat.Grey, inkBytes ink))
                Expect.isFalse digit.IsEmpty "not empty"
                Expect.equal digit.Pixels.Length 784 "28x28"
                let (cx, cy), (bw, bh) = measure digit.Pixels 28
                Expect.isLessThanOrEqual (abs (cx - 14.0)) 1.0 $"centre x {cx}"
                Expect.isLessThanOrEqual (abs (cy - 14.0)) 1.0 $"centre y {cy}"
                Expect.equal (max bw bh) 20 "longer side of the ink is 20"
                Expect.isTrue (digit.Pixels |> Array.forall (fun v -> v >= 0f && v <= 1f)) "values in [0,1]"
                Expect.floatClose Accuracy.high cx digit.CentreOfMass.X "reported centre"
            }

        for name, ink in [ "seven", seven; "four", four ] do
            test $"every encoding of the {name} gives the same digit" {
                let results = [ for label, image in encodings 280 240 ink -> label, DigitPreprocessor.PreparePng(PngEncoder.Encode image) ]
                let _, reference = results.Head
                for label, digit in results do
                    let diff = meanAbsDiff digit.Pixels reference.Pixels
                    Expect.isLessThan diff 1e-5 $"{label} differs by {diff}"
                    Expect.equal digit.InkBox reference.InkBox $"{label} box"
                let sources = results |> List.map (fun (_, d) -> d.InkSource) |> List.distinct
                Expect.equal sources [ InkSource.LightOnDark; InkSource.DarkOnLight; InkSource.Alpha ] "ink sources"
            }

        test "transparent pixels on an opaque canvas read as background" {
            let b = inkBytes seven
            let withHole =
                [| for i in 0 .. b.Length - 1 do
                       let g = 255uy - b.[i]
                       // a fully transparent black square far from the strokes, where plain luminance would see ink
                       let hole = i % 280 > 220 && i / 280 > 200
                       yield! (if hole then [| 0uy; 0uy; 0uy; 0uy |] else [| g; g; g; 255uy |]) |]
            let digit = DigitPreprocessor.Prepare(PngImage(280, 240, PngPixelFormat.Rgba, withHole))
            let plain = DigitPreprocessor.Prepare(PngImage(280, 240, PngPixelFormat.Grey, b))
            Expect.isLessThan (meanAbsDiff digit.Pixels plain.Pixels) 1e-5 "same digit"
        }

        test "off-white paper and grey ink give the same digit after contrast stretching" {
            let b = inkBytes four
            // background 230, ink down to 130: ink amount (230 - g) / 230, at most 100/230
            let paper = b |> Array.map (fun v -> byte (Math.Round(230.0 - 100.0 * float v / 255.0)))
            let faint = DigitPreprocessor.Prepare(PngImage(280, 240, PngPixelFormat.Grey, paper))
            let clean = DigitPreprocessor.Prepare(PngImage(280, 240, PngPixelFormat.Grey, b))
            let diff = meanAbsDiff faint.Pixels clean.Pixels
            Expect.isLessThan diff 0.01 $"difference {diff}"
        }

        for name, image in
            [ "a white canvas", PngImage(280, 280, PngPixelFormat.Grey, Array.create (280 * 280) 255uy)
              "a transparent canvas", PngImage(280, 280, PngPixelFormat.Rgba, Array.zeroCreate (280 * 280 * 4))
              "faint noise", PngImage(100, 100, PngPixelFormat.Grey, Array.init 10000 (fun i -> byte (i * 7 % 30)))
              "a stray dot", PngImage(280, 280, PngPixelFormat.Grey, inkBytes (draw 280 280 6.0 [ 100.0, 100.0, 100.0, 100.0 ])) ] do
            test $"{name} is empty" {
                let digit = DigitPreprocessor.Prepare image
                Expect.isTrue digit.IsEmpty "empty"
                Expect.equal digit.Pixels (Array.zeroCreate 784) "blank pixels"
            }

        test "a lopsided shape stays inside the canvas" {
            // a long bar with a heavy blob at one end: its centre of mass is far from the box's centre
            let ink = draw 200 200 4.0 [ 10.0, 100.0, 190.0, 100.0 ]
            let blob = draw 200 200 60.0 [ 170.0, 100.0, 170.0, 100.0 ]
            let digit = DigitPreprocessor.Prepare(ReadOnlySpan (Array.map2 (fun a b -> float32 (max a b)) ink blob), 200, 200)
            let box = digit.PlacedBox
            Expect.isTrue (box.X >= 0 && box.Y >= 0 && box.X + box.Width <= 28 && box.Y + box.Height <= 28) $"placed {box}"
            Expect.equal (box.X, box.Width) (0, 20) "pushed against the left edge"
            let (cx, _), _ = measure digit.Pixels 28
            Expect.isGreaterThan cx 14.5 "the centre of mass could not reach 14"
        }

        test "CentreOnly moves a shifted MNIST digit back to where it was" {
            if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
            let split = (MnistDataset.Load mnistDir).Test
            let options = DigitPreprocessOptions(CentreOnly = true, InkThreshold = 0f, StretchContrast = false)
            let mutable checkedCount = 0
            for i in 0 .. 49 do
                let digit = split.Image(i).ToArray()
                let original = digit |> Array.map (fun b -> float32 b / 255f)
                let prepared = DigitPreprocessor.Prepare(ReadOnlySpan original, 28, 28, InkPolarity.BrightInk, options)
                // shift by (3, -2) where the digit fits
                let box = prepared.InkBox
                if box.X + box.Width + 3 <= 28 && box.Y >= 2 then
                    let shifted = Array.init 784 (fun j -> let x, y = j % 28 - 3, j / 28 + 2 in if x >= 0 && y < 28 then original.[y * 28 + x] else 0f)
                    let back = DigitPreprocessor.Prepare(ReadOnlySpan shifted, 28, 28, InkPolarity.BrightInk, options)
                    Expect.equal back.Pixels prepared.Pixels $"digit {i}"
                    checkedCount <- checkedCount + 1
            Expect.isGreaterThan checkedCount 10 "enough digits checked"
        }

        test "MNIST digits are nearly unchanged by preprocessing" {
            if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
            let split = (MnistDataset.Load mnistDir).Test
            let mutable total, worst = 0.0, 0.0
            let mutable offCentre = 0.0
            for i in 0 .. 999 do
                let digit = split.Image i
                let original = digit.ToArray() |> Array.map (fun b -> float32 b / 255f)
                let prepared = DigitPreprocessor.PrepareMnist(digit)
                let d = meanAbsDiff prepared.Pixels original
                total <- total + d
                worst <- max worst d
                let (cx, cy), _ = measure prepared.Pixels 28
                offCentre <- max offCentre (max (abs (cx - 14.0)) (abs (cy - 14.0)))
            printfn "MNIST identity over 1000 test digits: mean |prepared - original| = %.5f, worst digit %.4f, worst centre offset %.3f px"
                (total / 1000.0) worst offCentre
            Expect.isLessThan (total / 1000.0) 0.005 "mean difference"
            Expect.isLessThanOrEqual offCentre 0.51 "centred like MNIST"
        }

        test "a 280x280 canvas PNG is prepared from pooled buffers, bit-identical to the decoded image's path" {
            // a browser canvas: opaque white with a thick slanted black stroke
            let canvas (format: PngPixelFormat) =
                let channels = int format
                let colours = if format = PngPixelFormat.Rgba then 3 else 1 // alpha stays opaque
                let pixels = Array.create (280 * 280 * channels) 255uy
                for y in 60 .. 220 do
                    for x in 120 .. 150 do
                        let o = (y * 280 + x + (220 - y) / 4) * channels
                        for c in 0 .. colours - 1 do pixels[o + c] <- 0uy
                PngEncoder.Encode(PngImage(280, 280, format, pixels))
            for format in [ PngPixelFormat.Rgba; PngPixelFormat.Grey; PngPixelFormat.GreyAlpha ] do
                let png = canvas format
                let expected = DigitPreprocessor.Prepare(PngDecoder.Decode png)
                let got = DigitPreprocessor.PreparePng png
                Expect.isFalse got.IsEmpty $"{format}: a digit"
                Expect.sequenceEqual (Array.map BitConverter.SingleToInt32Bits got.Pixels)
                    (Array.map BitConverter.SingleToInt32Bits expected.Pixels) $"{format}: the same bits"
                Expect.equal (got.InkSource, got.InkBox, got.PlacedBox, got.Scale)
                    (expected.InkSource, expected.InkBox, expected.PlacedBox, expected.Scale) $"{format}: the same framing"
                Expect.equal (got.SourceCentreOfMass, got.CentreOfMass)
                    (expected.SourceCentreOfMass, expected.CentreOfMass) $"{format}: the same centres"
                for _ in 1 .. 5 do DigitPreprocessor.PreparePng png |> ignore // steady state: pool filled, code jitted
                let before = GC.GetAllocatedBytesForCurrentThread()
                for _ in 1 .. 20 do DigitPreprocessor.PreparePng png |> ignore
                let perImage = (GC.GetAllocatedBytesForCurrentThread() - before) / 20L
                printfn "PreparePng of a 280x280 %A canvas (%d bytes): %d bytes allocated per image" format png.Length perImage
                // measured about 8 KB (the 28x28 result, zlib's stream object, chunk bookkeeping);
                // the unpooled path allocates over 300 KB, all of it on the large-object heap
                Expect.isLessThan perImage 32768L $"{format}: steady-state allocation per image"
        }

        test "MNIST digits drawn 10x larger black on white come back as themselves" {
            if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
            let split = (MnistDataset.Load mnistDir).Test
            for bilinear in [ false; true ] do
                let mutable total, worst, centreWorst = 0.0, 0.0, 0.0
                for i in 0 .. 999 do
                    let digit = split.Image(i).ToArray()
                    let reference = DigitPreprocessor.PrepareMnist(ReadOnlySpan digit)
                    let png = PngEncoder.Encode(upscale10 digit bilinear, PngFilterChoice.Adaptive, CompressionLevel.Fastest)
                    let drawn = DigitPreprocessor.PreparePng png
                    Expect.equal drawn.InkSource InkSource.DarkOnLight "inverted"
                    let d = meanAbsDiff drawn.Pixels reference.Pixels
                    total <- total + d
                    worst <- max worst d
                    let (cx, cy), (bw, bh) = measure drawn.Pixels 28
                    centreWorst <- max centreWorst (max (abs (cx - 14.0)) (abs (cy - 14.0)))
                    Expect.isLessThanOrEqual (max bw bh) 20 "ink within 20 px"
                let mean = total / 1000.0
                let how = if bilinear then "bilinear" else "nearest"
                printfn "fidelity, 1000 MNIST test digits upscaled 10x (%s) as black-on-white PNGs: mean |drawn - original| = %.5f per pixel, worst digit %.4f, worst centre offset %.3f px"
                    how mean worst centreWorst
                // nearest upscaling is undone exactly by area averaging; bilinear blurs (about 0.02 of it
                // remains even without any framing) and moves the threshold crossings slightly
                Expect.isLessThan mean (if bilinear then 0.05 else 1e-4) $"{how} mean difference"
                Expect.isLessThanOrEqual centreWorst 1.0 "centred"
        }
    ]

[<Tests>]
let tests = testList "Imaging" [ decodingTests; malformedTests; preprocessingTests ]
