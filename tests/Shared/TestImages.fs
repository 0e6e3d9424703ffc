/// Image files for the tests (linked into each test program): every format the server reads,
/// headers that lie about their size, EXIF orientation, and photographs of digits on paper made
/// here — drawn, rotated, blurred, unevenly lit, grainy, JPEG-compressed — through SkiaSharp.
module Mnist.TestImages

open System
open System.Buffers.Binary
open System.IO
open System.Text
open SkiaSharp
open Mnist.Core.Imaging
open Mnist.Imaging

// ---- files in every format ---------------------------------------------------------------------

let png (image: PixelImage) = ImageEncoder.Encode(image, ImageFileFormat.Png)
let jpeg (quality: int) (image: PixelImage) = ImageEncoder.Encode(image, ImageFileFormat.Jpeg, quality)
let webp (quality: int) (image: PixelImage) = ImageEncoder.Encode(image, ImageFileFormat.Webp, quality)

/// A grey image as an 8-bit palette BMP (bottom-up rows padded to 4 bytes), written by hand:
/// SkiaSharp reads BMP but does not write it.
let bmp (image: PixelImage) =
    if image.Layout <> PixelLayout.Grey then invalidArg "image" "grey images only"
    let w, h = image.Width, image.Height
    let stride = (w + 3) / 4 * 4
    let offset = 14 + 40 + 256 * 4
    let file = Array.zeroCreate<byte> (offset + stride * h)
    let u16 at (v: int) = BinaryPrimitives.WriteUInt16LittleEndian(Span(file, at, 2), uint16 v)
    let u32 at (v: int) = BinaryPrimitives.WriteInt32LittleEndian(Span(file, at, 4), v)
    file[0] <- byte 'B'; file[1] <- byte 'M'
    u32 2 file.Length; u32 10 offset
    u32 14 40; u32 18 w; u32 22 h; u16 26 1; u16 28 8; u32 34 (stride * h); u32 46 256
    for i in 0..255 do
        let at = 54 + 4 * i
        file[at] <- byte i; file[at + 1] <- byte i; file[at + 2] <- byte i
    for y in 0 .. h - 1 do
        Array.blit image.Pixels (y * w) file (offset + (h - 1 - y) * stride) w
    file

/// A grey image as a GIF with a 256-level grey palette, written by hand. The LZW stream sends every
/// pixel as a literal and a clear code every 250, so codes stay 9 bits wide (an "uncompressed" GIF).
let gif (image: PixelImage) =
    if image.Layout <> PixelLayout.Grey then invalidArg "image" "grey images only"
    let w, h = image.Width, image.Height
    use out = new MemoryStream()
    let u16 (v: int) = out.WriteByte(byte v); out.WriteByte(byte (v >>> 8))
    let put (bytes: byte[]) = out.Write(bytes, 0, bytes.Length)
    put (Encoding.ASCII.GetBytes "GIF89a")
    u16 w; u16 h
    out.WriteByte 0xF7uy; out.WriteByte 0uy; out.WriteByte 0uy // global table of 256 colours
    for i in 0..255 do put [| byte i; byte i; byte i |]
    out.WriteByte 0x2Cuy; u16 0; u16 0; u16 w; u16 h; out.WriteByte 0uy
    out.WriteByte 8uy // minimum code size
    let codes = ResizeArray<int>()
    codes.Add 256
    image.Pixels |> Array.iteri (fun i p ->
        if i > 0 && i % 250 = 0 then codes.Add 256
        codes.Add(int p))
    codes.Add 257
    let packed = ResizeArray<byte>()
    let mutable bits, count = 0, 0
    for code in codes do
        bits <- bits ||| (code <<< count)
        count <- count + 9
        while count >= 8 do
            packed.Add(byte bits)
            bits <- bits >>> 8
            count <- count - 8
    if count > 0 then packed.Add(byte bits)
    for start in 0..255 .. packed.Count - 1 do
        let n = min 255 (packed.Count - start)
        out.WriteByte(byte n)
        put (packed.GetRange(start, n).ToArray())
    out.WriteByte 0uy
    out.WriteByte 0x3Buy
    out.ToArray()

/// The same grey image in each format the server reads, named.
let everyFormat (image: PixelImage) =
    [ "PNG", png image; "JPEG", jpeg 95 image; "WebP", webp 100 image; "GIF", gif image; "BMP", bmp image ]

/// An ICO file holding a PNG: a format SkiaSharp reads that the server does not accept.
let ico (pngFile: byte[]) =
    let header = Array.zeroCreate<byte> 22
    header[2] <- 1uy; header[4] <- 1uy // type icon, one image
    header[6] <- 16uy; header[7] <- 16uy; header[10] <- 1uy; header[12] <- 32uy
    BinaryPrimitives.WriteInt32LittleEndian(Span(header, 14, 4), pngFile.Length)
    BinaryPrimitives.WriteInt32LittleEndian(Span(header, 18, 4), 22)
    Array.append header pngFile

// ---- headers that lie ----------------------------------------------------------------------------

let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n
        for _ in 1..8 do c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
        c)

/// CRC-32 as PNG chunks use it.
let crc32 (bytes: ReadOnlySpan<byte>) =
    let mutable c = 0xFFFFFFFFu
    for b in bytes do c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)
    c ^^^ 0xFFFFFFFFu

/// A PNG file whose IHDR now declares width × height (CRC fixed, so only the size lies).
let pngDeclaring (width: int) (height: int) (file: byte[]) =
    let copy = Array.copy file
    BinaryPrimitives.WriteInt32BigEndian(Span(copy, 16, 4), width)
    BinaryPrimitives.WriteInt32BigEndian(Span(copy, 20, 4), height)
    BinaryPrimitives.WriteUInt32BigEndian(Span(copy, 29, 4), crc32 (ReadOnlySpan(copy, 12, 17)))
    copy

/// A JPEG file whose start-of-frame now declares width × height.
let jpegDeclaring (width: int) (height: int) (file: byte[]) =
    let copy = Array.copy file
    let sof = seq { 2 .. copy.Length - 9 } |> Seq.find (fun i -> copy[i] = 0xFFuy && (copy[i + 1] = 0xC0uy || copy[i + 1] = 0xC2uy))
    BinaryPrimitives.WriteUInt16BigEndian(Span(copy, sof + 5, 2), uint16 height)
    BinaryPrimitives.WriteUInt16BigEndian(Span(copy, sof + 7, 2), uint16 width)
    copy

/// A JPEG file with an EXIF block saying how the stored pixels are to be turned (1..8) for viewing.
let withExifOrientation (orientation: int) (file: byte[]) =
    let tiff = Array.zeroCreate<byte> 26
    Encoding.ASCII.GetBytes("II*\000").CopyTo(tiff, 0)
    BinaryPrimitives.WriteInt32LittleEndian(Span(tiff, 4, 4), 8) // the first directory
    BinaryPrimitives.WriteUInt16LittleEndian(Span(tiff, 8, 2), 1us) // one entry:
    BinaryPrimitives.WriteUInt16LittleEndian(Span(tiff, 10, 2), 0x0112us) // Orientation,
    BinaryPrimitives.WriteUInt16LittleEndian(Span(tiff, 12, 2), 3us) // a SHORT,
    BinaryPrimitives.WriteInt32LittleEndian(Span(tiff, 14, 4), 1) // one of them:
    BinaryPrimitives.WriteUInt16LittleEndian(Span(tiff, 18, 2), uint16 orientation)
    let payload = Array.append (Encoding.ASCII.GetBytes "Exif\000\000") tiff
    let segment = Array.zeroCreate<byte> 4
    segment[0] <- 0xFFuy; segment[1] <- 0xE1uy
    BinaryPrimitives.WriteUInt16BigEndian(Span(segment, 2, 2), uint16 (payload.Length + 2))
    Array.concat [ file[..1]; segment; payload; file[2..] ]

// ---- drawings and photographs ------------------------------------------------------------------

/// Strokes of a digit, in a unit box (x right, y down), as a pen would draw them.
let strokes =
    [ 1, [ [ 0.42, 0.18; 0.55, 0.05; 0.55, 0.95 ] ]
      4, [ [ 0.62, 0.05; 0.12, 0.62; 0.88, 0.62 ]; [ 0.62, 0.05; 0.62, 0.95 ] ]
      7, [ [ 0.15, 0.08; 0.85, 0.08; 0.38, 0.95 ] ] ]
    |> Map.ofList

/// An ink mask (0..1, size × size) of strokes drawn with a round pen <paramref name="penShare"/> of the box wide.
let drawStrokes (size: int) (penShare: float) (lines: (float * float) list list) =
    use bitmap = new SKBitmap(SKImageInfo(size, size, SKColorType.Gray8, SKAlphaType.Opaque))
    use canvas = new SKCanvas(bitmap)
    canvas.Clear SKColors.Black
    use pen = new SKPaint(Color = SKColors.White, IsAntialias = true, Style = SKPaintStyle.Stroke,
                          StrokeWidth = float32 (penShare * float size), StrokeCap = SKStrokeCap.Round, StrokeJoin = SKStrokeJoin.Round)
    let margin = 0.1 * float size
    let at (x, y) = SKPoint(float32 (margin + x * 0.8 * float size), float32 (margin + y * 0.8 * float size))
    for line in lines do
        // segment by segment: round caps make round joins
        for a, b in List.pairwise line do canvas.DrawLine(at a, at b, pen)
    bitmap.Bytes |> Array.map (fun b -> float32 b / 255.0f), size, size

/// How a photograph of a digit on paper is taken.
type PhotoStyle =
    { Width: int
      Height: int
      /// The digit's height as a share of the photo's shorter side.
      DigitShare: float
      /// Rotation of the paper, in degrees.
      Angle: float
      /// Where the digit's centre is, as a share of the width and height.
      Centre: float * float
      /// Focus blur (Gaussian sigma), in pixels.
      Blur: float
      /// How much darker the dim corner is than the lit one (0..1), plus a soft shadow.
      Lighting: float
      /// Sensor noise (standard deviation, in grey levels).
      Noise: float
      /// Ink colour (RGB).
      Ink: byte * byte * byte
      Quality: int
      Seed: int }

let defaultPhoto =
    { Width = 640; Height = 480; DigitShare = 0.6; Angle = 6.0; Centre = (0.46, 0.52); Blur = 1.6; Lighting = 0.45
      Noise = 5.0; Ink = (28uy, 32uy, 70uy); Quality = 82; Seed = 1 }

/// A photograph (JPEG) of an ink mask (0..1, maskWidth × maskHeight) written on paper, as a phone takes one.
let photograph (style: PhotoStyle) (mask: float32[], maskWidth: int, maskHeight: int) =
    let rgba = Array.zeroCreate<byte> (maskWidth * maskHeight * 4)
    let r, g, b = style.Ink
    for i in 0 .. mask.Length - 1 do
        rgba[4 * i] <- r; rgba[4 * i + 1] <- g; rgba[4 * i + 2] <- b
        rgba[4 * i + 3] <- byte (MathF.Round(Math.Clamp(mask[i], 0.0f, 1.0f) * 255.0f))
    use inkData = SKData.CreateCopy rgba
    use ink = SKImage.FromPixels(SKImageInfo(maskWidth, maskHeight, SKColorType.Rgba8888, SKAlphaType.Unpremul), inkData)
    use bitmap = new SKBitmap(SKImageInfo(style.Width, style.Height, SKColorType.Rgba8888, SKAlphaType.Premul))
    (use canvas = new SKCanvas(bitmap)
     canvas.Clear(SKColor(238uy, 234uy, 224uy))
     let cx, cy = style.Centre
     let scale = style.DigitShare * float (min style.Width style.Height) / float maskHeight
     // the filter works in the drawing's own units, which the canvas then scales up
     use blur = SKImageFilter.CreateBlur(float32 (style.Blur / scale), float32 (style.Blur / scale))
     use paint = new SKPaint(ImageFilter = blur, IsAntialias = true)
     canvas.Translate(float32 (cx * float style.Width), float32 (cy * float style.Height))
     canvas.RotateDegrees(float32 style.Angle)
     canvas.Scale(float32 scale)
     canvas.DrawImage(ink, -float32 maskWidth / 2.0f, -float32 maskHeight / 2.0f, SKSamplingOptions(SKFilterMode.Linear), paint))
    let pixels = bitmap.Bytes
    let rng = Random style.Seed
    let gaussian () = Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble())
    let w, h = float style.Width, float style.Height
    for y in 0 .. style.Height - 1 do
        for x in 0 .. style.Width - 1 do
            // light from the top left, a soft shadow (a hand, a phone) towards the bottom right
            let gradient = 1.0 - style.Lighting * (0.65 * float x / w + 0.35 * float y / h)
            let dx, dy = (float x - 0.85 * w) / (0.3 * w), (float y - 0.9 * h) / (0.3 * h)
            let light = gradient * (1.0 - 0.25 * style.Lighting * Math.Exp(-(dx * dx + dy * dy)))
            let o = 4 * (y * style.Width + x)
            for c in 0..2 do
                pixels[o + c] <- byte (Math.Clamp(float pixels[o + c] * light + style.Noise * gaussian (), 0.0, 255.0))
    jpeg style.Quality (PixelImage(style.Width, style.Height, PixelLayout.Rgba, pixels))

/// An MNIST digit (28 × 28 bytes, 255 = ink) as an ink mask.
let mnistMask (digit: byte[]) = digit |> Array.map (fun b -> float32 b / 255.0f), 28, 28

/// Photographs taken differently enough to matter: landscape and portrait, both rotations, strong
/// and mild lighting, blue and black ink.
let photoStyles =
    [ defaultPhoto
      { defaultPhoto with Width = 480; Height = 640; Angle = -8.0; Centre = (0.55, 0.45); Lighting = 0.6; Seed = 2 }
      { defaultPhoto with Width = 800; Height = 600; DigitShare = 0.45; Angle = 3.0; Blur = 2.5; Noise = 8.0; Ink = (20uy, 20uy, 20uy); Quality = 70; Seed = 3 }
      { defaultPhoto with Width = 600; Height = 600; DigitShare = 0.7; Angle = -4.0; Lighting = 0.3; Seed = 4 } ]
