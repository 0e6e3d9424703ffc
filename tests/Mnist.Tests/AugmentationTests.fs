module Mnist.Tests.AugmentationTests

#nowarn "3391" // arrays passed where the code takes spans: the implicit conversion is the point

open System
open Expecto
open Mnist.Core
open Mnist.Core.Augmentation
open Mnist.Core.Data
open Mnist.Tests.TestData

// ---------------------------------------------------------------- images

/// A digit-like test image: a ring and a slanted bar with soft edges, off centre so that every
/// transform moves it, in bytes 0..255 like MNIST.
let private synthetic (height: int) (width: int) =
    Array.init (height * width) (fun p ->
        let x, y = float (p % width), float (p / width)
        let ring = 1.0 - abs (sqrt ((x - 0.45 * float width) ** 2.0 + (y - 0.4 * float height) ** 2.0) - 0.22 * float height) / 1.5
        let bar = 1.0 - abs ((x - 0.6 * float width) - 0.3 * (y - 0.5 * float height)) / 1.2
        let inBar = y > 0.5 * float height && y < 0.9 * float height
        byte (255.0 * Math.Clamp(max ring (if inBar then bar else 0.0), 0.0, 1.0)))

/// A split of synthetic images of one size (shifted copies of the pattern) with labels 0..9.
let private syntheticSplit (count: int) (height: int) (width: int) =
    let base' = synthetic height width
    let pixels = Array.init (count * height * width) (fun i ->
        let n, p = i / (height * width), i % (height * width)
        base'[(p + 3 * n) % (height * width)])
    MnistSplit(pixels, Array.init count (fun i -> byte (i % 10)), height, width)

let private real = lazy ((MnistDataset.Load mnistDir).Train)

/// Real MNIST training images when the files are there, else synthetic 28×28 ones.
let private digits () = if mnistDir = "" then syntheticSplit 200 28 28 else real.Value

let private bits (values: float32[]) = values |> Array.map BitConverter.SingleToInt32Bits

let private expectSameBits (what: string) (expected: float32[]) (actual: float32[]) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    match Array.tryFindIndex id (Array.map2 (<>) (bits expected) (bits actual)) with
    | Some i -> failtestf "%s: element %d is %g, expected %g (bitwise)" what i actual[i] expected[i]
    | None -> ()

let private unitOf (image: byte[]) = image |> Array.map (fun b -> float32 b / 255.0f)

/// Applies given random choices with the fast path, in [0, 1] units.
let private applyFast (spec: AugmentationSpec) (height: int) (width: int) (image: byte[]) (affine: AffineTransform) (rawX: float32[]) (rawY: float32[]) =
    let output = Array.zeroCreate<float32> (height * width)
    Augmenter(spec, height, width).Apply(ReadOnlySpan image, affine, ReadOnlySpan rawX, ReadOnlySpan rawY, Augmenter.Unit, Span output)
    output

/// The random choices Augmenter.Augment makes for a key.
let private choices (spec: AugmentationSpec) (height: int) (width: int) (key: uint64) =
    let rng = Rng key
    let affine = AffineTransform.Draw(spec, rng, height, width)
    let rawX, rawY = Array.zeroCreate<float32> (height * width), Array.zeroCreate<float32> (height * width)
    if spec.ElasticAlpha > 0.0f then ElasticField.Draw(rng, Span rawX, Span rawY)
    affine, rawX, rawY

let private augment (spec: AugmentationSpec) (height: int) (width: int) (image: byte[]) (key: uint64) =
    let output = Array.zeroCreate<float32> (height * width)
    Augmenter(spec, height, width).Augment(ReadOnlySpan image, key, Augmenter.Unit, Span output)
    output

let private strong = AugmentationSpec(Rotation = 40.0f, Scale = 0.3f, Shear = 30.0f, Translate = 0.2f, ElasticAlpha = 34.0f, ElasticSigma = 4.0f)
let private elastic = AugmentationSpec.Elastic

/// Fills a whole epoch's batches (loader.Fill directly) for an order, as the producer should hand them out.
let private directBatches (loader: AugmentedBatchLoader) (epoch: int) (order: int[]) (samples: int) (batchSize: int) =
    [ for start in 0 .. batchSize .. samples - 1 do
        let count = min batchSize (samples - start)
        let images = Array.zeroCreate<float32> (count * loader.Split.ImageSize)
        let labels = Array.zeroCreate<int> count
        loader.Fill(ReadOnlySpan(order, start, count), epoch, start / batchSize, Span images, Span labels)
        images, labels ]

let private produced (producer: BatchProducer) (epoch: int) (order: int[]) (samples: int) =
    producer.BeginEpoch(epoch, order, samples)
    let batches = ResizeArray()
    let mutable batch = producer.Next()
    while not (isNull batch) do
        batches.Add((batch.Images.ToArray(), batch.BatchLabels.ToArray()))
        batch <- producer.Next()
    List.ofSeq batches

/// Bytes this thread allocates over 20 calls of f after 20 warm-up calls (outside any test { }
/// block, whose loops allocate themselves).
let private allocatedBy (f: unit -> unit) =
    for _i = 1 to 20 do f ()
    let before = GC.GetAllocatedBytesForCurrentThread()
    for _i = 1 to 20 do f ()
    GC.GetAllocatedBytesForCurrentThread() - before

let private shuffled (count: int) (seed: uint64) =
    let order = Array.init count id
    Rng(seed).Shuffle(Span order)
    order

// ---------------------------------------------------------------- tests

[<Tests>]
let tests =
    testList "Augmentation" [
        testList "spec" [
            test "JSON round-trips in camelCase, and {} is off" {
                for spec in [ AugmentationSpec.None; AugmentationSpec.Standard; strong ] do
                    Expect.equal (AugmentationSpec.FromJson(spec.ToJson())) spec (spec.ToString())
                Expect.equal (AugmentationSpec.Standard.ToJson())
                    """{"rotation":10,"scale":0.1,"shear":10,"translate":0.1,"elasticAlpha":0,"elasticSigma":4}""" "field names"
                let off = AugmentationSpec.FromJson "{}"
                Expect.equal off AugmentationSpec.None "defaults"
                Expect.isTrue off.IsOff "off"
                Expect.equal (AugmentationSpec.FromJson """{ "rotation": 15 }""").Rotation 15.0f "one field"
                Expect.equal (AugmentationSpec.None.ToString()) "none" "described"
                Expect.equal (strong.ToString()) "rotation=40, scale=0.3, shear=30, translate=0.2, elasticAlpha=34, elasticSigma=4" "described"
            }

            test "unknown fields and out-of-range values are errors a person can act on" {
                let e = throws<MnistException> (fun () -> AugmentationSpec.FromJson """{ "rotaton": 10 }""" |> ignore)
                Expect.stringContains e.Message "rotaton" "names the field"
                for spec, words in
                    [ AugmentationSpec(Rotation = -1.0f), "rotation must be a non-negative number"
                      AugmentationSpec(Rotation = 181.0f), "at most 180"
                      AugmentationSpec(Scale = 1.0f), "scale 1 must be below 1"
                      AugmentationSpec(Shear = 90.0f), "below 90"
                      AugmentationSpec(Translate = 1.5f), "at most 1"
                      AugmentationSpec(ElasticAlpha = nanf), "elasticAlpha must be a non-negative number"
                      AugmentationSpec(ElasticAlpha = 10.0f, ElasticSigma = 0.0f), "elasticSigma must be above 0"
                      AugmentationSpec(ElasticSigma = 11.0f), "at most 10" ] do
                    let e = throws<MnistException> (fun () -> spec.Validate() |> ignore)
                    Expect.stringContains e.Message words (spec.ToString())
                AugmentationSpec(ElasticSigma = 0.0f).Validate() |> ignore // all zero is off, not an error
            }

            test "named sets: none, standard, elastic" {
                Expect.equal (AugmentationSpec.Named " Standard ") AugmentationSpec.Standard "standard"
                Expect.isTrue (AugmentationSpec.Named "none").IsOff "none"
                let elastic = AugmentationSpec.Named "elastic"
                Expect.equal (elastic.ElasticAlpha, elastic.ElasticSigma, elastic.Rotation) (34.0f, 4.0f, 10.0f) "elastic"
                let e = throws<MnistException> (fun () -> AugmentationSpec.Named "strong" |> ignore)
                Expect.stringContains e.Message "valid names: none, standard, elastic" "lists the names"
            }
        ]

        testList "random stream" [
            test "Reseed restarts the stream exactly as a new generator" {
                let rng = Rng 5UL
                rng.NextGaussian() |> ignore // leaves a spare Gaussian behind
                rng.Reseed 99UL
                let fresh = Rng 99UL
                Expect.equal rng.State fresh.State "state"
                Expect.equal [ for _ in 1..5 -> rng.NextGaussian() ] [ for _ in 1..5 -> fresh.NextGaussian() ] "stream"
            }

            test "keys depend on every part of (seed, epoch, batch, position)" {
                let keys = [ for s in 1UL..3UL do for e in 0..3 do for b in 0..3 do for p in 0..3 -> AugmentationKey.For(s, e, b, p) ]
                Expect.equal (List.distinct keys).Length keys.Length "all different"
                Expect.equal (AugmentationKey.For(7UL, 2, 3, 4)) (AugmentationKey.For(7UL, 2, 3, 4)) "a function of its inputs"
            }

            test "portable sine, cosine and exponential match the C runtime's to a few ulps" {
                for i in -400..400 do
                    let x = float i * Math.PI / 200.0
                    let struct (s, c) = PortableMath.SinCos x
                    Expect.floatClose { absolute = 1e-15; relative = 0.0 } s (Math.Sin x) $"sin {x}"
                    Expect.floatClose { absolute = 1e-15; relative = 0.0 } c (Math.Cos x) $"cos {x}"
                for i in 0..1000 do
                    let x = -0.05 * float i
                    Expect.floatClose { absolute = 0.0; relative = 1e-13 } (PortableMath.Exp x) (Math.Exp x) $"exp {x}"
            }
        ]

        testList "transform" [
            test "the identity transform changes nothing, bit for bit" {
                let split = digits ()
                let norm = Normalization.FromTraining split
                let plain = BatchLoader(split, norm)
                for index in [ 0; 1; 7; 199 ] do
                    let image = split.Image(index).ToArray()
                    Expect.equal (applyFast AugmentationSpec.Standard 28 28 image AffineTransform.Identity [||] [||]) (unitOf image) $"unit values, image {index}"
                    // with an elastic part whose field is all zero, and normalised as training sees it
                    let zeros = Array.zeroCreate<float32> 784
                    let normalised = Array.zeroCreate<float32> 784
                    Augmenter(elastic, 28, 28).Apply(ReadOnlySpan image, AffineTransform.Identity, ReadOnlySpan zeros, ReadOnlySpan zeros, norm, Span normalised)
                    let expected = Array.zeroCreate<float32> 784
                    plain.Fill(ReadOnlySpan [| index |], Span expected, Span(Array.zeroCreate<int> 1))
                    expectSameBits $"normalised, image {index}" expected normalised
                Expect.equal (AffineTransform.Identity.SamplingMatrix(28, 28)) (SamplingMatrix(1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f)) "matrix"
            }

            test "ranges of 0 (elastic alpha 0 included) turn it off: batches are BatchLoader's, bit for bit" {
                let split = digits ()
                let norm = Normalization.FromTraining split
                let order = shuffled 150 3UL
                let expected = Array.zeroCreate<float32> (150 * 784)
                let expectedLabels = Array.zeroCreate<int> 150
                BatchLoader(split, norm).Fill(ReadOnlySpan order, Span expected, Span expectedLabels)
                for spec in [ AugmentationSpec.None; AugmentationSpec(ElasticSigma = 0.0f); AugmentationSpec(ElasticAlpha = 0.0f, ElasticSigma = 7.0f) ] do
                    Expect.isTrue spec.IsOff (spec.ToString())
                    let images = Array.zeroCreate<float32> (150 * 784)
                    let labels = Array.zeroCreate<int> 150
                    AugmentedBatchLoader(split, norm, spec, 11UL).Fill(ReadOnlySpan order, 1, 0, Span images, Span labels)
                    expectSameBits (spec.ToString()) expected images
                    Expect.equal labels expectedLabels "labels"
                // the augmenter itself, with every range 0, draws the identity
                for key in [ 1UL; 2UL; 3UL ] do
                    let image = split.Image(int key).ToArray()
                    expectSameBits "augmenter, all ranges 0" (unitOf image) (augment AugmentationSpec.None 28 28 image key)
            }

            test "positive angles turn counter-clockwise, shear slants like italics, shifts move right and down, zoom enlarges" {
                // one bright pixel; where does it land?
                let at x y =
                    let image = Array.zeroCreate<byte> (29 * 29)
                    image[y * 29 + x] <- 255uy
                    image
                let brightest (values: float32[]) = let i = Array.findIndex ((=) (Array.max values)) values in i % 29, i / 29
                let spec = AugmentationSpec.Standard
                let move image (affine: AffineTransform) = brightest (applyFast spec 29 29 image affine [||] [||])
                Expect.equal (move (at 20 14) (AffineTransform(90.0f, 1.0f, 0.0f, 0.0f, 0.0f))) (14, 8) "right of centre → above"
                Expect.equal (move (at 14 8) (AffineTransform(0.0f, 1.0f, 45.0f, 0.0f, 0.0f))) (20, 8) "above centre → right"
                Expect.equal (move (at 14 20) (AffineTransform(0.0f, 1.0f, 45.0f, 0.0f, 0.0f))) (8, 20) "below centre → left"
                Expect.equal (move (at 14 14) (AffineTransform(0.0f, 1.0f, 0.0f, 3.0f, -2.0f))) (17, 12) "shifted"
                Expect.equal (move (at 17 14) (AffineTransform(0.0f, 2.0f, 0.0f, 0.0f, 0.0f))) (20, 14) "zoomed"
            }

            test "matches the float64 reference on known images, affine and elastic" {
                let cases =
                    [ for spec in [ AugmentationSpec.Standard; elastic; strong ] do
                        for key in 1UL..4UL do
                            yield spec, 28, 28, (digits ()).Image(int key * 13).ToArray(), key
                            yield spec, 28, 28, synthetic 28 28, key
                            yield spec, 13, 21, synthetic 13 21, key ] // odd sizes: a partial last vector
                for spec, h, w, image, key in cases do
                    let affine, rawX, rawY = choices spec h w key
                    let fast = applyFast spec h w image affine rawX rawY
                    let reference = AugmentationReference.Transform(ReadOnlySpan image, h, w, affine, ReadOnlySpan rawX, ReadOnlySpan rawY, float spec.ElasticAlpha, float spec.ElasticSigma)
                    for p in 0 .. fast.Length - 1 do
                        if abs (float fast[p] - reference[p]) > 2e-5 then
                            failtestf "%O %dx%d key %d: pixel %d is %g, reference %g" spec h w key p fast[p] reference[p]
                    // and Augment draws exactly these choices
                    expectSameBits $"{spec} key {key}: Augment = Apply(choices)" fast (augment spec h w image key)
                    Expect.isGreaterThan (Array.map2 (fun a b -> abs (float a - float b)) fast (unitOf image) |> Array.max) 0.1 "the image did change"
            }

            test "AVX2 gathers and lane-by-lane reads give the same bits" {
                let saved = BilinearWarp.UseGather
                try
                    let image = (digits ()).Image(5).ToArray()
                    let run gather = BilinearWarp.UseGather <- gather; augment strong 28 28 image 9UL
                    expectSameBits "gather vs lanes" (run false) (run (Runtime.Intrinsics.X86.Avx2.IsSupported))
                finally
                    BilinearWarp.UseGather <- saved
            }

            test "bilinear output stays within the input's value range" {
                let split = digits ()
                for index in 0..39 do
                    let image = split.Image(index).ToArray()
                    let top = float32 (Array.max image) / 255.0f
                    for key in 0UL..9UL do
                        let output = augment strong 28 28 image (uint64 index * 100UL + key)
                        Expect.isGreaterThanOrEqual (Array.min output) 0.0f "above the background"
                        Expect.isLessThanOrEqual (Array.max output) top "below the brightest input pixel"
            }

            test "augmenting allocates nothing" {
                let augmenter = Augmenter(strong, 28, 28)
                let image = synthetic 28 28
                let output = Array.zeroCreate<float32> 784
                Expect.equal (allocatedBy (fun () -> augmenter.Augment(ReadOnlySpan image, 3UL, Augmenter.Unit, Span output))) 0L "bytes allocated by 20 images"
                // and a synchronous producer, batch after batch (the epoch's first batch reshapes the tensor back)
                let split = syntheticSplit 64 28 28
                use producer = new BatchProducer(AugmentedBatchLoader(split, Normalization.FromTraining split, strong, 1UL), 16, background = false)
                let order = Array.init 64 id
                producer.BeginEpoch(1, order, 64)
                Expect.equal (allocatedBy (fun () -> if isNull (producer.Next()) then producer.BeginEpoch(1, order, 64))) 0L "bytes allocated by 20 batches"
            }
        ]

        testList "batches" [
            test "the same (seed, epoch, batch) gives the same batch; another seed, epoch or batch a different one" {
                let split = digits ()
                let norm = Normalization.FromTraining split
                let indices = [| 4; 8; 15; 16; 23; 42 |]
                let fill (seed: uint64) epoch batch =
                    let images = Array.zeroCreate<float32> (indices.Length * 784)
                    AugmentedBatchLoader(split, norm, elastic, seed).Fill(ReadOnlySpan indices, epoch, batch, Span images, Span(Array.zeroCreate<int> indices.Length))
                    images
                let reference = fill 1UL 2 3
                expectSameBits "same key" reference (fill 1UL 2 3)
                for other, what in [ fill 2UL 2 3, "seed"; fill 1UL 3 3, "epoch"; fill 1UL 2 4, "batch" ] do
                    for i in 0 .. indices.Length - 1 do
                        Expect.notEqual (bits other[i * 784 .. i * 784 + 783]) (bits reference[i * 784 .. i * 784 + 783]) $"another {what}, image {i}"
                // the same image at two positions of one batch is distorted differently
                let twice = Array.zeroCreate<float32> (2 * 784)
                AugmentedBatchLoader(split, norm, elastic, 1UL).Fill(ReadOnlySpan [| 4; 4 |], 1, 0, Span twice, Span(Array.zeroCreate<int> 2))
                Expect.notEqual (bits twice[..783]) (bits twice[784..]) "positions"
            }

            test "labels are untouched" {
                let split = (digits ()).Take 500
                let order = shuffled split.Count 5UL
                let labels = Array.zeroCreate<int> split.Count
                AugmentedBatchLoader(split, Normalization.FromTraining split, strong, 1UL)
                    .Fill(ReadOnlySpan order, 1, 0, Span(Array.zeroCreate<float32> (split.Count * 784)), Span labels)
                Expect.equal labels (order |> Array.map (fun i -> int split.Labels[i])) "labels"
            }

            test "the background producer gives exactly what the synchronous path gives" {
                let split = syntheticSplit 203 28 28
                let loader = AugmentedBatchLoader(split, Normalization.FromTraining split, elastic, 21UL)
                use background = new BatchProducer(loader, 32)
                use inline' = new BatchProducer(loader, 32, background = false)
                for epoch in 1..3 do
                    let order = shuffled 203 (uint64 epoch)
                    let samples = if epoch = 2 then 202 else 203 // a lonely last sample left out, as with batch norm
                    let expected = directBatches loader epoch order samples 32
                    Expect.equal expected.Length ((samples + 31) / 32) "batch count, a short one last"
                    for batches, what in [ produced background epoch order samples, "background"; produced inline' epoch order samples, "synchronous" ] do
                        Expect.equal batches.Length expected.Length $"{what}: batches"
                        List.iteri2 (fun i (images, labels) (expectedImages, expectedLabels) ->
                            expectSameBits $"{what}, epoch {epoch}, batch {i}" expectedImages images
                            Expect.equal labels expectedLabels $"{what}, epoch {epoch}, batch {i}: labels") batches expected
            }

            test "the producer starts a new epoch cleanly after one cut short, and rethrows a failure" {
                let split = syntheticSplit 100 28 28
                let loader = AugmentedBatchLoader(split, Normalization.FromTraining split, AugmentationSpec.Standard, 2UL)
                use producer = new BatchProducer(loader, 16)
                let order = shuffled 100 1UL
                producer.BeginEpoch(1, order, 100)
                producer.Next() |> ignore // stopped after one batch, the next one already in preparation
                let batches = produced producer 2 order 100
                Expect.equal batches (directBatches loader 2 order 100 16) "epoch 2 whole"
                let bad = Array.copy order
                bad[40] <- 1000 // no such sample: batch 2 fails in the background
                producer.BeginEpoch(3, bad, 100)
                producer.Next() |> ignore
                producer.Next() |> ignore
                throws<ArgumentOutOfRangeException> (fun () -> producer.Next() |> ignore) |> ignore
                Expect.equal (produced producer 4 order 100).Length 7 "works again afterwards"
            }
        ]
    ]
