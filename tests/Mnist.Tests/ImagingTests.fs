module Mnist.Tests.ImagingTests

open System
open System.IO
open System.IO.Compression
open Expecto
open Mnist.Core.Data
open Mnist.Core.Imaging
open Mnist.Imaging
open Mnist
open Mnist.Tests.TestData

/// Allocated bytes on this thread while f runs, with f's result.
let private allocatedBy f =
    let before = GC.GetAllocatedBytesForCurrentThread()
    let result = f ()
    GC.GetAllocatedBytesForCurrentThread() - before, result

let private codeOf (bytes: byte[]) =
    try
        ImageDecoder.Decode(ReadOnlySpan bytes) |> ignore
        "accepted"
    with :? ImageFormatException as e -> e.Code

/// A 37 × 23 grey test card: a gradient with a dark block in its top-left corner.
let private card =
    let w, h = 37, 23
    PixelImage(w, h, PixelLayout.Grey, Array.init (w * h) (fun i ->
        let x, y = i % w, i / w
        if x < 8 && y < 6 then 10uy else byte (60 + 4 * x + 2 * y)))

let private decodingTests =
    testList "decoding" [
        test "PNG, WebP, GIF and BMP give back the exact grey pixels; JPEG nearly" {
            for name, file in TestImages.everyFormat card do
                let image = ImageDecoder.Decode(ReadOnlySpan file)
                Expect.equal (image.Width, image.Height) (card.Width, card.Height) $"{name} size"
                let grey = [| for i in 0 .. card.Width * card.Height - 1 -> image.Pixel(i % card.Width, i / card.Width)[0] |]
                if name = "JPEG" then
                    let worst = Array.map2 (fun (a: byte) (b: byte) -> abs (int a - int b)) grey card.Pixels |> Array.max
                    Expect.isLessThan worst 12 $"{name}: close (worst {worst})"
                else Expect.equal grey card.Pixels $"{name}: exact"
        }

        test "colour and transparency survive (RGBA PNG, unpremultiplied)" {
            let pixels = [| 255uy; 0uy; 0uy; 127uy; 0uy; 200uy; 30uy; 255uy |]
            let image = ImageDecoder.Decode(ReadOnlySpan(TestImages.png (PixelImage(2, 1, PixelLayout.Rgba, pixels))))
            Expect.equal image.Layout PixelLayout.Rgba "layout"
            Expect.equal image.Pixels pixels "pixels"
        }

        test "EXIF orientation turns the stored pixels the way they are meant to be seen" {
            // the dark block is stored at the top left; each orientation says where that corner belongs
            let stored = TestImages.jpeg 100 card
            let expected =
                [ 1, (37, 23, 0, 0); 2, (37, 23, 1, 0); 3, (37, 23, 1, 1); 4, (37, 23, 0, 1)
                  5, (23, 37, 0, 0); 6, (23, 37, 1, 0); 7, (23, 37, 1, 1); 8, (23, 37, 0, 1) ]
            for orientation, (w, h, right, bottom) in expected do
                let image = ImageDecoder.Decode(ReadOnlySpan(TestImages.withExifOrientation orientation stored))
                Expect.equal (image.Width, image.Height) (w, h) $"orientation {orientation}: size"
                let x = if right = 1 then w - 3 else 2
                let y = if bottom = 1 then h - 3 else 2
                Expect.isLessThan (image.Pixel(x, y)[0]) 40uy $"orientation {orientation}: the dark corner is at ({x}, {y})"
        }

        test "a large image is handed on at most 1 MP, its content kept" {
            let w, h = 3000, 2000
            let pixels = Array.init (w * h) (fun i -> if (i % w) < 1500 then 0uy else 255uy)
            for name, file in [ "PNG", TestImages.png (PixelImage(w, h, PixelLayout.Grey, pixels))
                                "JPEG", TestImages.jpeg 90 (PixelImage(w, h, PixelLayout.Grey, pixels)) ] do
                let image = ImageDecoder.Decode(ReadOnlySpan file)
                Expect.isLessThanOrEqual (int64 image.Width * int64 image.Height) ImageDecoder.WorkingPixels $"{name}: working size"
                Expect.floatClose Accuracy.low (float image.Width / float image.Height) 1.5 $"{name}: aspect kept"
                Expect.isLessThan (image.Pixel(image.Width / 4, image.Height / 2)[0]) 30uy $"{name}: left half dark"
                Expect.isGreaterThan (image.Pixel(3 * image.Width / 4, image.Height / 2)[0]) 225uy $"{name}: right half light"
        }

        test "files: decoded from disk, a bad one named in the error" {
            use dir = new TempDir()
            let bad = Path.Combine(dir.Path, "bad.png")
            File.WriteAllBytes(bad, (TestImages.png card)[.. 40])
            let e = throws<ImageFormatException> (fun () -> ImageDecoder.PrepareDigitFile bad |> ignore)
            Expect.equal e.Code ImageErrorCode.Truncated "code"
            Expect.stringContains e.Message "bad.png" "names the bad file"
        }

        test "thumbnails of [0,1] images: scaled blocks, either polarity" {
            let values = [| 0f; 0.5f; 1f; 2f |] // 2 is clamped to 1
            let image = ImageDecoder.Decode(ReadOnlySpan(GreyPng.EncodeUnit(ReadOnlySpan values, 2, 2, scale = 3, darkInk = true)))
            Expect.equal (image.Width, image.Height) (6, 6) "scaled size"
            let greyAt x y = image.Pixel(x, y)[0]
            Expect.equal [ greyAt 0 0; greyAt 5 0; greyAt 2 5; greyAt 5 5 ] [ 255uy; 127uy; 0uy; 0uy ] "dark ink, nearest blocks"
            let plain = PixelImage.FromUnitGrey(ReadOnlySpan values, 2, 2)
            Expect.equal plain.Pixels [| 0uy; 128uy; 255uy; 255uy |] "bright ink, rounded"
        }

        test "a grey PNG file is written whole, and reads back" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "grid.png")
            GreyPng.WriteFile(path, ReadOnlySpan card.Pixels, card.Width, card.Height)
            let back = ImageDecoder.Decode(ReadOnlySpan(File.ReadAllBytes path))
            Expect.equal back.Pixels card.Pixels "the same pixels"
            Expect.equal (Directory.GetFiles dir.Path |> Array.map Path.GetFileName) [| "grid.png" |] "no temporary file left"
        }

        test "data URLs of every accepted type round-trip; other URLs are refused" {
            let file = TestImages.png card
            for kind in [ "png"; "jpeg"; "webp"; "gif"; "bmp" ] do
                Expect.equal (ImageDataUrl.ToBytes(ImageDataUrl.Of(file, "image/" + kind))) file kind
            let code url =
                try ImageDataUrl.ToBytes(url: string) |> ignore; "accepted"
                with :? ImageFormatException as e -> e.Code
            Expect.equal (code "data:image/svg+xml;base64,AAAA") ImageErrorCode.BadDataUrl "svg"
            Expect.equal (code "https://example.com/7.png") ImageErrorCode.BadDataUrl "a plain URL"
            Expect.equal (code "data:image/png;base64,@@@@") ImageErrorCode.BadBase64 "base64"
            let big = "data:image/png;base64," + String('A', 4000)
            Expect.equal (try ImageDataUrl.ToBytes(big, 1000) |> ignore; "accepted" with :? ImageFormatException as e -> e.Code) "too_large" "size"
        }
    ]

let private malformedTests =
    let file = TestImages.png card
    let cases =
        [ "not_image", "empty", [||]
          "not_image", "text", Text.Encoding.ASCII.GetBytes "hello, this is not an image"
          "not_image", "an SVG", Text.Encoding.ASCII.GetBytes "<svg xmlns='http://www.w3.org/2000/svg'/>"
          "unsupported", "an icon (ICO)", TestImages.ico file
          "truncated", "half a PNG signature", file[.. 3]
          "truncated", "a PNG cut inside its image data", (let noisy = TestImages.png (PixelImage(100, 100, PixelLayout.Grey, Array.init 10000 (fun i -> byte (i * 7919 % 251)))) in noisy[.. noisy.Length / 2])
          "truncated", "a JPEG cut in half", (let j = TestImages.jpeg 90 card in j[.. j.Length / 2])
          "too_large", "a PNG declaring 30000x30000", TestImages.pngDeclaring 30000 30000 file
          "too_large", "a JPEG declaring 30000x30000", TestImages.jpegDeclaring 30000 30000 (TestImages.jpeg 90 card)
          "too_large", "a PNG over the side limit", TestImages.pngDeclaring 9000 10 file ]
    testList "malformed" [
        for code, name, bytes in cases do
            test $"{name} is refused as {code}" {
                try
                    ImageDecoder.Decode(ReadOnlySpan bytes) |> ignore
                    failtest "accepted"
                with :? ImageFormatException as e ->
                    Expect.equal e.Code code $"code (message: {e.Message})"
                    Expect.isTrue (e :> exn :? Mnist.Core.MnistException) "a MnistException"
                    Expect.isNotEmpty e.Problem "message"
            }

        test "a caller's limit is applied before decoding" {
            let limits = ImageLimits(MaxPixels = 20L * 20L)
            let e = throws<ImageFormatException> (fun () -> ImageDecoder.Decode(ReadOnlySpan file, limits) |> ignore)
            Expect.equal e.Code "too_large" "code"
            Expect.throwsT<ArgumentOutOfRangeException> (fun () -> ImageLimits(MaxPixels = ImageLimits.HardMaxPixels + 1L) |> ignore) "hard cap"
        }

        test "a 30000x30000 header is refused before anything is allocated" {
            for name, bomb in [ "PNG", TestImages.pngDeclaring 30000 30000 file
                                "JPEG", TestImages.jpegDeclaring 30000 30000 (TestImages.jpeg 90 card) ] do
                let allocated, code = allocatedBy (fun () -> codeOf bomb)
                Expect.equal code "too_large" $"{name}: code"
                printfn "30000x30000 %s (%d-byte file): refused after %d bytes allocated" name bomb.Length allocated
                Expect.isLessThan allocated (1L <<< 20) $"{name}: allocation"
        }

        test "image data inflating far past the header is never inflated" {
            // 64x64 grey needs 64 × 65 bytes; the IDAT inflates to 256 MiB of zeros
            let compressed =
                use buffer = new MemoryStream()
                (use z = new ZLibStream(buffer, CompressionLevel.Optimal)
                 let zeros = Array.zeroCreate (1 <<< 20)
                 for _ in 1 .. 256 do z.Write(zeros, 0, zeros.Length))
                buffer.ToArray()
            let small = TestImages.png (PixelImage(64, 64, PixelLayout.Grey, Array.zeroCreate 4096))
            // signature and IHDR from the small file, then one IDAT of the bomb and IEND
            let chunk (kind: string) (data: byte[]) =
                let typed = Array.append (Text.Encoding.ASCII.GetBytes kind) data
                let length = Array.zeroCreate 4
                Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(Span length, data.Length)
                let crc = Array.zeroCreate 4
                Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(Span crc, TestImages.crc32 (ReadOnlySpan typed))
                Array.concat [ length; typed; crc ]
            let bomb = Array.concat [ small[.. 32]; chunk "IDAT" compressed; chunk "IEND" [||] ]
            let clock = Diagnostics.Stopwatch.StartNew()
            let allocated, code = allocatedBy (fun () -> codeOf bomb)
            printfn "inflation bomb (%d-byte file, 256 MiB inflated): %s in %d ms after %d bytes allocated"
                bomb.Length code clock.ElapsedMilliseconds allocated
            Expect.equal code "accepted" "only the declared 64x64 pixels are decoded"
            Expect.isLessThan clock.ElapsedMilliseconds 2000L "without inflating the rest"
            Expect.isLessThan allocated (1L <<< 20) "allocation"
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
    [ "white on black", PixelImage(w, h, PixelLayout.Grey, b)
      "black on white", PixelImage(w, h, PixelLayout.Grey, b |> Array.map (fun v -> 255uy - v))
      "black on transparent", PixelImage(w, h, PixelLayout.Rgba, [| for v in b do yield! [| 0uy; 0uy; 0uy; v |] |])
      "blue on transparent", PixelImage(w, h, PixelLayout.Rgba, [| for v in b do yield! [| 30uy; 60uy; 200uy; v |] |])
      "black on opaque white RGBA", PixelImage(w, h, PixelLayout.Rgba, [| for v in b do let g = 255uy - v in yield! [| g; g; g; 255uy |] |]) ]

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
    PixelImage(n, n, PixelLayout.Grey, pixels)

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
                let digit = DigitPreprocessor.Prepare(PixelImage(280, 240, PixelLayout.Grey, inkBytes ink))
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
                let results = [ for label, image in encodings 280 240 ink -> label, ImageDecoder.PrepareDigit(ReadOnlySpan(TestImages.png image)) ]
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
            let digit = DigitPreprocessor.Prepare(PixelImage(280, 240, PixelLayout.Rgba, withHole))
            let plain = DigitPreprocessor.Prepare(PixelImage(280, 240, PixelLayout.Grey, b))
            Expect.isLessThan (meanAbsDiff digit.Pixels plain.Pixels) 1e-5 "same digit"
        }

        test "off-white paper and grey ink give the same digit after contrast stretching" {
            let b = inkBytes four
            // background 230, ink down to 130: ink amount (230 - g) / 230, at most 100/230
            let paper = b |> Array.map (fun v -> byte (Math.Round(230.0 - 100.0 * float v / 255.0)))
            let faint = DigitPreprocessor.Prepare(PixelImage(280, 240, PixelLayout.Grey, paper))
            let clean = DigitPreprocessor.Prepare(PixelImage(280, 240, PixelLayout.Grey, b))
            let diff = meanAbsDiff faint.Pixels clean.Pixels
            Expect.isLessThan diff 0.01 $"difference {diff}"
        }

        for name, image in
            [ "a white canvas", PixelImage(280, 280, PixelLayout.Grey, Array.create (280 * 280) 255uy)
              "a transparent canvas", PixelImage(280, 280, PixelLayout.Rgba, Array.zeroCreate (280 * 280 * 4))
              "faint noise", PixelImage(100, 100, PixelLayout.Grey, Array.init 10000 (fun i -> byte (i * 7 % 30)))
              "a stray dot", PixelImage(280, 280, PixelLayout.Grey, inkBytes (draw 280 280 6.0 [ 100.0, 100.0, 100.0, 100.0 ])) ] do
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
            let canvas (format: PixelLayout) =
                let channels = int format
                let colours = if format = PixelLayout.Rgba then 3 else 1 // alpha stays opaque
                let pixels = Array.create (280 * 280 * channels) 255uy
                for y in 60 .. 220 do
                    for x in 120 .. 150 do
                        let o = (y * 280 + x + (220 - y) / 4) * channels
                        for c in 0 .. colours - 1 do pixels[o + c] <- 0uy
                TestImages.png (PixelImage(280, 280, format, pixels))
            for format in [ PixelLayout.Rgba; PixelLayout.Grey; PixelLayout.GreyAlpha ] do
                let png = canvas format
                let expected = DigitPreprocessor.Prepare(ImageDecoder.Decode(ReadOnlySpan png))
                let got = ImageDecoder.PrepareDigit(ReadOnlySpan png)
                Expect.isFalse got.IsEmpty $"{format}: a digit"
                Expect.sequenceEqual (Array.map BitConverter.SingleToInt32Bits got.Pixels)
                    (Array.map BitConverter.SingleToInt32Bits expected.Pixels) $"{format}: the same bits"
                Expect.equal (got.InkSource, got.InkBox, got.PlacedBox, got.Scale)
                    (expected.InkSource, expected.InkBox, expected.PlacedBox, expected.Scale) $"{format}: the same framing"
                Expect.equal (got.SourceCentreOfMass, got.CentreOfMass)
                    (expected.SourceCentreOfMass, expected.CentreOfMass) $"{format}: the same centres"
                for _ in 1 .. 5 do ImageDecoder.PrepareDigit(ReadOnlySpan png) |> ignore // steady state: pool filled, code jitted
                let before = GC.GetAllocatedBytesForCurrentThread()
                for _ in 1 .. 20 do ImageDecoder.PrepareDigit(ReadOnlySpan png) |> ignore
                let perImage = (GC.GetAllocatedBytesForCurrentThread() - before) / 20L
                printfn "PrepareDigit of a 280x280 %A canvas (%d bytes): %d bytes allocated per image" format png.Length perImage
                // measured about 7 KB (the 28x28 result, SkiaSharp's wrappers); the unpooled path
                // allocates over 300 KB, all of it on the large-object heap
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
                    let drawn = ImageDecoder.PrepareDigit(ReadOnlySpan(TestImages.png (upscale10 digit bilinear)))
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

        test "photographs of MNIST digits on paper come out like the digits themselves" {
            if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"
            let split = (MnistDataset.Load mnistDir).Test
            let mutable total, worst, count = 0.0, 0.0, 0
            for i in 0 .. 11 do
                let digit = split.Image(i).ToArray()
                let reference = DigitPreprocessor.PrepareMnist(ReadOnlySpan digit)
                for style in TestImages.photoStyles do
                    let photo = TestImages.photograph { style with Seed = style.Seed + 10 * i } (TestImages.mnistMask digit)
                    let seen = ImageDecoder.PrepareDigit(ReadOnlySpan photo)
                    Expect.equal seen.InkSource InkSource.Photo $"digit {i}: read as a photo"
                    Expect.isFalse seen.IsEmpty $"digit {i}: found"
                    let d = meanAbsDiff seen.Pixels reference.Pixels
                    total <- total + d
                    worst <- max worst d
                    count <- count + 1
                    let (cx, cy), _ = measure seen.Pixels 28
                    Expect.isLessThanOrEqual (max (abs (cx - 14.0)) (abs (cy - 14.0))) 1.0 $"digit {i}: centred"
            printfn "photographs of %d MNIST test digits (rotated, blurred, unevenly lit, grainy JPEGs): mean |seen - MNIST| = %.4f per pixel, worst %.4f"
                count (total / float count) worst
            Expect.isLessThan (total / float count) 0.08 "mean difference"
        }

        test "a thin pen line in a photograph is thickened to an MNIST-like stroke" {
            for digit, lines in Map.toList TestImages.strokes do
                let marker = TestImages.drawStrokes 400 0.12 lines
                let (mask, w, h) = marker
                let reference = DigitPreprocessor.Prepare(ReadOnlySpan mask, w, h)
                let photo = TestImages.photograph TestImages.defaultPhoto (TestImages.drawStrokes 400 0.02 lines)
                let seen = ImageDecoder.PrepareDigit(ReadOnlySpan photo)
                let d = meanAbsDiff seen.Pixels reference.Pixels
                let ink (p: float32[]) = Array.sumBy float p
                printfn "pen-drawn %d: ink %.1f against %.1f for a marker, mean difference %.4f" digit (ink seen.Pixels) (ink reference.Pixels) d
                Expect.isGreaterThan (ink seen.Pixels) (0.5 * ink reference.Pixels) $"{digit}: strokes thick enough"
                Expect.isLessThan d 0.15 $"{digit}: like the marker drawing"
        }

        test "a photo of blank paper is empty" {
            let blank = TestImages.photograph TestImages.defaultPhoto (Array.zeroCreate 784, 28, 28)
            let seen = ImageDecoder.PrepareDigit(ReadOnlySpan blank)
            Expect.isTrue seen.IsEmpty "no digit on blank paper"
        }
    ]

[<Tests>]
let tests = testList "Imaging" [ decodingTests; malformedTests; preprocessingTests ]
