module Mnist.Tests.KernelTests

#nowarn "3391" // arrays passed where the kernels take spans: the implicit conversion is the point

open System
open Expecto
open Mnist.Core.Backends
open Mnist.Core.Kernels

// ---------------------------------------------------------------- helpers

let private rand (seed: int) (n: int) =
    let r = Random(seed)
    Array.init n (fun _ -> float32 (r.NextDouble() * 2.0 - 1.0))

/// Values from a handful of levels, so pooling windows often hold ties.
let private coarse (seed: int) (n: int) =
    let r = Random(seed)
    Array.init n (fun _ -> float32 (r.Next(-3, 4)))

/// |actual − expected| ≤ tol·(1 + |expected|) everywhere.
let private expectClose (tol: float32) (what: string) (expected: float32[]) (actual: float32[]) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    for i in 0 .. expected.Length - 1 do
        let e, a = expected[i], actual[i]
        if not (abs (a - e) <= tol * (1.0f + abs e)) then
            failtestf "%s: element %d is %g, expected %g" what i a e

/// Bit for bit (NaN patterns included).
let private expectSame (what: string) (expected: float32[]) (actual: float32[]) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    for i in 0 .. expected.Length - 1 do
        if BitConverter.SingleToInt32Bits expected[i] <> BitConverter.SingleToInt32Bits actual[i] then
            failtestf "%s: element %d is %g, expected %g (bitwise)" what i actual[i] expected[i]

/// Rounding grows with the length of the sums: allow a few ulps per √k.
let private sumTolerance (k: int) = 2e-6f * sqrt (float32 (max k 1))

/// Runs f with a kernel switch set, restoring it afterwards.
let private withThreads (threads: int) (f: unit -> 'a) =
    let saved = KernelThreads.MaxThreads
    KernelThreads.MaxThreads <- threads
    try f () finally KernelThreads.MaxThreads <- saved

let private withParallelFlops (flops: float) (f: unit -> 'a) =
    let saved = GemmDriver.ParallelFlops
    GemmDriver.ParallelFlops <- flops
    try f () finally GemmDriver.ParallelFlops <- saved

let private withGemmPath (path: GemmPath) (f: unit -> 'a) =
    let saved = GemmDriver.Forced
    GemmDriver.Forced <- path
    try f () finally GemmDriver.Forced <- saved

/// The tiles this machine can run (the forced path falls back to a narrower one when unsupported).
let private gemmPaths =
    [ GemmPath.Avx512; GemmPath.Avx2; GemmPath.Portable ]
    |> List.filter (fun p -> withGemmPath p (fun () -> GemmDriver.Path) = p)

/// Bytes this thread allocates over 10 calls of f after 40 warm-up calls (outside any test { } block,
/// whose loops are computation-expression loops that allocate themselves).
let private allocatedBy (f: unit -> unit) =
    for _i = 1 to 40 do f ()
    let before = GC.GetAllocatedBytesForCurrentThread()
    for _i = 1 to 10 do f ()
    GC.GetAllocatedBytesForCurrentThread() - before

let private threadCounts = [ 1; 2; 3; Environment.ProcessorCount + 1 ] |> List.distinct

// ---------------------------------------------------------------- GEMM

type private GemmCase =
    { TransA: bool; TransB: bool; M: int; N: int; K: int; Beta: float32; Pad: int }

let private gemmShapes =
    [ 1, 1, 1; 2, 3, 4; 7, 13, 5; 6, 16, 8; 5, 17, 300; 13, 31, 257; 64, 196, 288
      150, 40, 20; 9, 2100, 3; 37, 70, 600; 32, 784, 9; 12, 5, 1000 ]

let private gemmCases =
    [ for (m, n, k) in gemmShapes do
        for transA in [ false; true ] do
            for transB in [ false; true ] do
                for beta in [ 0.0f; 1.0f; 0.5f ] do
                    { TransA = transA; TransB = transB; M = m; N = n; K = k; Beta = beta; Pad = (m + n + k) % 3 } ]

/// Runs one case through a GEMM function with padded strides; returns C.
let private runGemm (sgemm: bool * bool * int * int * int * float32[] * int * float32[] * int * float32[] * int * float32 -> unit)
                    (c: GemmCase) (seed: int) =
    let lda = (if c.TransA then c.M else c.K) + c.Pad
    let ldb = (if c.TransB then c.K else c.N) + c.Pad
    let ldc = c.N + c.Pad
    let a = rand seed ((if c.TransA then c.K else c.M) * lda)
    let b = rand (seed + 1) ((if c.TransB then c.N else c.K) * ldb)
    let out = rand (seed + 2) (c.M * ldc)
    sgemm (c.TransA, c.TransB, c.M, c.N, c.K, a, lda, b, ldb, out, ldc, c.Beta)
    out

let private fast (ta, tb, m, n, k, a: float32[], lda, b: float32[], ldb, out: float32[], ldc, beta) =
    Gemm.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, out, ldc, beta)

let private reference (ta, tb, m, n, k, a: float32[], lda, b: float32[], ldb, out: float32[], ldc, beta) =
    GemmReference.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, out, ldc, beta)

let private describe (c: GemmCase) =
    $"{c.M}x{c.N}x{c.K} transA={c.TransA} transB={c.TransB} beta={c.Beta} pad={c.Pad}"

let private gemmTests =
    testList "Gemm" [
        test "matches the reference for every shape, transpose and beta" {
            for c in gemmCases do
                expectClose (sumTolerance c.K) (describe c) (runGemm reference c 11) (runGemm fast c 11)
        }

        test "every tile this machine has (AVX-512, AVX2+FMA, portable) matches the reference" {
            Expect.contains gemmPaths GemmPath.Portable "the portable tile always runs"
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for c in gemmCases |> List.filter (fun c -> c.Beta <> 0.5f || c.M < 20) do
                        expectClose (sumTolerance c.K) $"{path} {describe c}" (runGemm reference c 5) (runGemm fast c 5))
        }

        test "is bit-identical whatever the thread count, on every tile" {
            withParallelFlops 0.0 (fun () ->
                for path in gemmPaths do
                    withGemmPath path (fun () ->
                        for c in gemmCases |> List.filter (fun c -> c.Beta <> 0.5f) do
                            let serial = withThreads 1 (fun () -> runGemm fast c 3)
                            for threads in threadCounts do
                                let run = withThreads threads (fun () -> runGemm fast c 3)
                                expectSame $"{path} {describe c}, {threads} threads" serial run))
        }

        test "an edge tile gives the bits a full tile gives, on every tile" {
            // The same rows of A and columns of B, once cut to partial tiles and once inside a full
            // 64-column product: every element must come out bit for bit the same.
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for m, k in [ 13, 5; 6, 300; 4, 700 ] do
                        for n in [ 1; 4; 8; 9; 15; 16; 17; 31; 33; 47 ] do
                            for beta in [ 0.0f; 1.0f ] do
                                let a, b = rand 21 (m * k), rand 22 (k * 64)
                                let start = rand 23 (m * 64)
                                let full, part = Array.copy start, Array.copy start
                                Gemm.Sgemm(false, false, m, 64, k, a, k, b, 64, full, 64, beta)
                                Gemm.Sgemm(false, false, m, n, k, a, k, b, 64, part, 64, beta)
                                for i in 0 .. m - 1 do
                                    expectSame $"{path} {m}x{n}x{k} beta={beta} row {i}" full[i * 64 .. i * 64 + n - 1] part[i * 64 .. i * 64 + n - 1]
                                    expectSame $"{path} {m}x{n}x{k} beta={beta} row {i} untouched" start[i * 64 + n .. i * 64 + 63] part[i * 64 + n .. i * 64 + 63])
        }

        test "k = 0 scales C by beta, and beta = 0 never reads C" {
            let c = Array.create 6 4.0f
            Gemm.Sgemm(false, false, 2, 3, 0, Array.empty<float32>, 1, Array.empty<float32>, 3, c, 3, 0.5f)
            expectSame "k = 0, beta = 0.5" (Array.create 6 2.0f) c
            Gemm.Sgemm(false, false, 2, 3, 0, Array.empty<float32>, 1, Array.empty<float32>, 3, c, 3, 0.0f)
            expectSame "k = 0, beta = 0" (Array.zeroCreate<float32> 6) c
            let a, b = rand 1 (7 * 9), rand 2 (9 * 20)
            let nan = Array.create (7 * 20) Single.NaN
            let expected = Array.zeroCreate<float32> (7 * 20)
            GemmReference.Sgemm(false, false, 7, 20, 9, a, 9, b, 20, expected, 20)
            Gemm.Sgemm(false, false, 7, 20, 9, a, 9, b, 20, nan, 20)
            expectClose (sumTolerance 9) "beta = 0 over NaN" expected nan
        }

        test "rejects operands too small for their shape" {
            Expect.throwsT<ArgumentException> (fun () ->
                Gemm.Sgemm(false, false, 4, 4, 4, Array.zeroCreate<float32> 15, 4, Array.zeroCreate<float32> 16, 4, Array.zeroCreate<float32> 16, 4))
                "A too short"
            Expect.throwsT<ArgumentException> (fun () ->
                Gemm.Sgemm(false, true, 4, 4, 4, Array.zeroCreate<float32> 16, 4, Array.zeroCreate<float32> 16, 3, Array.zeroCreate<float32> 16, 4))
                "ldb below k"
        }

        test "allocates nothing in steady state" {
            let a, b, c = rand 1 (64 * 3136), rand 2 (3136 * 128), Array.zeroCreate<float32> (64 * 128)
            let small = Array.zeroCreate<float32> (7 * 13)
            let run () =
                Gemm.Sgemm(false, false, 64, 128, 3136, a, 3136, b, 128, c, 128)
                Gemm.Sgemm(true, true, 128, 64, 64, b, 128, a, 3136, c, 64, 1.0f)
                Gemm.Sgemm(false, true, 7, 13, 5, a, 5, b, 5, small, 13)
            Expect.equal (allocatedBy run) 0L "bytes allocated by 30 GEMMs"
        }
    ]

// ---------------------------------------------------------------- im2col and convolution

let private convGeometries =
    [ // channels, height, width, kernelH, kernelW, stride, pad
      ConvGeometry(1, 28, 28, 3, 3, 1, 1)   // classic conv1
      ConvGeometry(32, 14, 14, 3, 3, 1, 1)  // classic conv2
      ConvGeometry(3, 7, 9, 1, 1, 1, 0)     // pointwise
      ConvGeometry(2, 8, 9, 1, 1, 2, 0)     // 1x1 stride 2
      ConvGeometry(2, 11, 8, 5, 5, 1, 2)
      ConvGeometry(3, 10, 13, 3, 3, 2, 1)
      ConvGeometry(2, 9, 9, 5, 5, 2, 0)
      ConvGeometry(1, 5, 5, 3, 3, 3, 2)
      ConvGeometry(4, 6, 7, 2, 3, 1, 0)
      ConvGeometry(1, 4, 4, 5, 5, 1, 2)     // kernel larger than the image
      ConvGeometry(2, 3, 3, 3, 3, 1, 3)     // whole rows of padding
      ConvGeometry(40, 6, 7, 3, 3, 1, 1)    // 360 column rows: two GEMM k-slices
      ConvGeometry(13, 9, 8, 5, 5, 2, 2)    // 325 rows, strided
      ConvGeometry(3, 28, 28, 3, 3, 2, 1)   // resnet's downsampling (14 outputs a row)
      ConvGeometry(2, 24, 24, 5, 5, 2, 2)   // best's strided 5×5
      ConvGeometry(2, 40, 37, 3, 3, 2, 1)   // stride 2, 19 outputs a row: two 16-column chunks
      ConvGeometry(2, 20, 40, 3, 3, 1, 0)   // "valid" stride 1, 38 outputs a row: three chunks
      ConvGeometry(1, 6, 35, 4, 2, 2, 3) ]  // padding wider than the kernel, 20 outputs a row

#nowarn "9" // pointers into pinned arrays for the internal fold
let private foldScratch (g: ConvGeometry) (cols: float32[]) (image: float32[]) =
    use pc = fixed cols
    use pi = fixed image
    Im2Col.FoldDestroying(&g, pc, pi)

let private im2colTests =
    testList "Im2Col" [
        test "unfold equals the reference" {
            for g in convGeometries do
                let image = rand 7 g.ImageSize
                let expected = Array.create (g.ColRows * g.ColCols) nanf
                let actual = Array.create (g.ColRows * g.ColCols) nanf
                Im2ColReference.Unfold(&g, image, expected)
                Im2Col.Unfold(&g, image, actual)
                expectSame $"unfold {g}" expected actual
        }

        test "fold equals the reference (same order of additions)" {
            for g in convGeometries do
                let cols = rand 8 (g.ColRows * g.ColCols)
                let expected, actual = rand 9 g.ImageSize, rand 9 g.ImageSize
                Im2ColReference.Fold(&g, cols, expected)
                Im2Col.Fold(&g, cols, actual)
                expectSame $"fold {g}" expected actual
        }

        test "strided rows read and write nothing outside the image and the columns" {
            // The image and the column matrix each sit between two inaccessible pages, flush
            // against one then the other: a read of a padding position through an unmasked lane faults.
            for g, atStart in List.allPairs convGeometries [ false; true ] do
                use image = new GuardedFloats(g.ImageSize, atStart)
                use cols = new GuardedFloats(g.ColRows * g.ColCols, atStart)
                let values = rand 7 g.ImageSize
                values.CopyTo(image.Span)
                let expected = Array.zeroCreate<float32> (g.ColRows * g.ColCols)
                Im2ColReference.Unfold(&g, values, expected)
                Im2Col.Unfold(&g, image.Span, cols.Span)
                expectSame $"unfold {g}" expected (cols.Span.ToArray())
                let expectedImage = Array.copy values
                Im2ColReference.Fold(&g, expected, expectedImage)
                Im2Col.Fold(&g, expected, image.Span)
                expectSame $"fold {g}" expectedImage (image.Span.ToArray())
        }

        test "the convolution's in-place fold of its scratch equals the reference" {
            for g in convGeometries do
                let cols = rand 8 (g.ColRows * g.ColCols)
                let expected, actual = Array.zeroCreate<float32> g.ImageSize, Array.zeroCreate<float32> g.ImageSize
                Im2ColReference.Fold(&g, cols, expected)
                foldScratch g (Array.copy cols) actual
                expectSame $"fold {g}" expected actual
        }
    ]

type private ConvRun =
    { Y: float32[]; Dx: float32[]; Dw: float32[]; Db: float32[] }

/// Forward, then BackwardWeights (reusing Forward's columns), then BackwardData.
let private convFast (g: ConvGeometry) outC batch (x: float32[]) (w: float32[]) (bias: float32[]) (dy: float32[]) (ws: Workspace) =
    let y = Array.create (batch * outC * g.ColCols) nanf
    let dx = Array.create (batch * g.ImageSize) nanf
    let dw = Array.create (outC * g.ColRows) nanf
    let db = Array.create outC nanf
    Convolution.Forward(&g, outC, batch, x, w, bias, y, ws)
    Convolution.BackwardWeights(&g, outC, batch, x, dy, dw, db, ws)
    Convolution.BackwardData(&g, outC, batch, dy, w, dx, ws)
    { Y = y; Dx = dx; Dw = dw; Db = db }

let private convReference (g: ConvGeometry) outC batch x w bias dy =
    let y = Array.zeroCreate<float32> (batch * outC * g.ColCols)
    let dx = Array.zeroCreate<float32> (batch * g.ImageSize)
    let dw = Array.zeroCreate<float32> (outC * g.ColRows)
    let db = Array.zeroCreate<float32> outC
    ConvolutionReference.Forward(&g, outC, batch, x, w, bias, y)
    ConvolutionReference.BackwardWeights(&g, outC, batch, x, dy, dw, db)
    ConvolutionReference.BackwardData(&g, outC, batch, dy, w, dx)
    { Y = y; Dx = dx; Dw = dw; Db = db }

let private convInputs (g: ConvGeometry) outC batch seed =
    rand seed (batch * g.ImageSize), rand (seed + 1) (outC * g.ColRows), rand (seed + 2) outC,
    rand (seed + 3) (batch * outC * g.ColCols)

let private convCases =
    [ for g in convGeometries do
        let outC = if g.Channels = 32 then 64 elif g.Channels = 1 && g.Height = 28 then 32 else 5
        for batch in [ 1; 3 ] do
            yield g, outC, batch ]

let private expectConv (what: string) (g: ConvGeometry) batch (expected: ConvRun) (actual: ConvRun) =
    expectClose (sumTolerance g.ColRows) $"{what} y" expected.Y actual.Y
    expectClose (sumTolerance (batch * g.ColCols)) $"{what} dw" expected.Dw actual.Dw
    expectClose (sumTolerance (batch * g.ColCols)) $"{what} db" expected.Db actual.Db
    expectClose (sumTolerance (g.ColRows * 4)) $"{what} dx" expected.Dx actual.Dx

/// Every pass gives the same bits on 1, 2, 3 and more threads, with even small products threaded.
let private expectSameOnAnyThreads (cases: (ConvGeometry * int * int) list) seed =
    withParallelFlops 0.0 (fun () ->
        for (g, outC, batch) in cases do
            let x, w, bias, dy = convInputs g outC batch seed
            let serial = withThreads 1 (fun () -> convFast g outC batch x w bias dy (Workspace()))
            for threads in threadCounts do
                let run = withThreads threads (fun () -> convFast g outC batch x w bias dy (Workspace()))
                let what = $"{g} out {outC} batch {batch}, {threads} threads"
                expectSame $"{what} y" serial.Y run.Y
                expectSame $"{what} dx" serial.Dx run.Dx
                expectSame $"{what} dw" serial.Dw run.Dw
                expectSame $"{what} db" serial.Db run.Db)

let private convolutionTests =
    testList "Convolution" [
        test "forward, backward weights and backward data match the reference" {
            for (g, outC, batch) in convCases do
                let x, w, bias, dy = convInputs g outC batch 21
                expectConv $"{g} out {outC} batch {batch}" g batch
                    (convReference g outC batch x w bias dy) (convFast g outC batch x w bias dy (Workspace()))
        }

        test "matches the reference on every tile (im2col packs its columns for the tile's width)" {
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for (g, outC, batch) in convCases |> List.filter (fun (_, _, b) -> b = 3) do
                        let x, w, bias, dy = convInputs g outC batch 25
                        expectConv $"{path} {g} out {outC}" g batch
                            (convReference g outC batch x w bias dy) (convFast g outC batch x w bias dy (Workspace())))
        }

        test "single-channel first layers run directly with the im2col path's bits" {
            let cases =
                [ ConvGeometry(1, 28, 28, 3, 3, 1, 1), 32   // classic's conv1
                  ConvGeometry(1, 28, 28, 3, 3, 1, 0), 32   // best's first layer
                  ConvGeometry(1, 9, 16, 3, 3, 1, 1), 3     // rows of exactly one vector
                  ConvGeometry(1, 7, 21, 3, 3, 1, 2), 4     // pad 2, a short last vector
                  ConvGeometry(1, 6, 13, 3, 3, 1, 1), 4     // too narrow: im2col both ways
                  ConvGeometry(1, 11, 20, 5, 5, 1, 2), 5 ]  // 5×5: im2col both ways
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for threads in threadCounts do
                        withThreads threads (fun () ->
                            for (g, outC) in cases do
                                let batch = 3
                                // Zeros of both signs: the direct chain must round them as the GEMM tile does.
                                let x = rand 41 (batch * g.ImageSize)
                                for i in 0 .. 7 .. x.Length - 1 do x[i] <- if i % 2 = 0 then 0.0f else -0.0f
                                let w, bias = rand 42 (outC * g.ColRows), rand 43 outC
                                let run () =
                                    let y = Array.create (batch * outC * g.ColCols) nanf
                                    Convolution.Forward(&g, outC, batch, x, w, bias, y, Workspace())
                                    y
                                let direct = run ()
                                Convolution.DirectAllowed <- false
                                let im2col = try run () finally Convolution.DirectAllowed <- true
                                expectSame $"{path} {g} out {outC}, {threads} threads" im2col direct))
        }

        test "backward weights depends on its arguments only (fresh workspace, or after a forward on other data)" {
            for (g, outC, batch) in convCases |> List.filter (fun (_, _, b) -> b = 3) do
                let x, w, bias, dy = convInputs g outC batch 31
                let expected = convReference g outC batch x w bias dy
                let dw, db = Array.zeroCreate<float32> (outC * g.ColRows), Array.zeroCreate<float32> outC
                Convolution.BackwardWeights(&g, outC, batch, x, dy, dw, db, Workspace())
                expectClose (sumTolerance (batch * g.ColCols)) $"{g} dw, fresh workspace" expected.Dw dw
                // A forward over another input in between (an evaluation pass) must not matter.
                let ws = Workspace()
                let other = rand 99 x.Length
                Convolution.Forward(&g, outC, batch, other, w, bias, Array.zeroCreate<float32> (batch * outC * g.ColCols), ws)
                Convolution.BackwardWeights(&g, outC, batch, x, dy, dw, db, ws)
                expectClose (sumTolerance (batch * g.ColCols)) $"{g} dw, after a forward on other data" expected.Dw dw
        }

        test "a workspace sized for a larger batch serves a smaller one" {
            let g = ConvGeometry(3, 10, 13, 3, 3, 2, 1)
            let ws = Workspace()
            for batch in [ 5; 2; 5 ] do
                let x, w, bias, dy = convInputs g 4 batch batch
                expectConv $"batch {batch}" g batch (convReference g 4 batch x w bias dy) (convFast g 4 batch x w bias dy ws)
        }

        test "is bit-identical whatever the thread count" {
            // Batch 3 shares images among threads; batch 1 runs its image here with threaded GEMMs.
            expectSameOnAnyThreads convCases 41
        }

        test "allocates nothing in steady state (with the ReLU and pooling around it)" {
            for (g, outC) in [ ConvGeometry(1, 28, 28, 3, 3, 1, 1), 32; ConvGeometry(32, 14, 14, 3, 3, 1, 1), 64 ] do
                let batch = 16
                let x, w, bias, dy = convInputs g outC batch 51
                let y, dx = Array.zeroCreate<float32> (batch * outC * g.ColCols), Array.zeroCreate<float32> (batch * g.ImageSize)
                let dw, db = Array.zeroCreate<float32> (outC * g.ColRows), Array.zeroCreate<float32> outC
                let r, dr = Array.zeroCreate<float32> y.Length, Array.zeroCreate<float32> y.Length
                let pool = PoolGeometry(outC, g.OutH, g.OutW, 2, 2)
                let pooled, argmax = Array.zeroCreate<float32> (y.Length / 4), Array.zeroCreate<int> (y.Length / 4)
                let ws = Workspace()
                let step () =
                    Convolution.Forward(&g, outC, batch, x, w, bias, y, ws)
                    Elementwise.Relu(y, r)
                    Pooling.MaxForward(&pool, batch, r, pooled, argmax)
                    Pooling.MaxBackward(&pool, batch, pooled, argmax, dr)
                    Elementwise.ReluBackward(y, dr, dr)
                    Convolution.BackwardWeights(&g, outC, batch, x, dy, dw, db, ws)
                    Convolution.BackwardData(&g, outC, batch, dy, w, dx, ws)
                Expect.equal (allocatedBy step) 0L $"bytes allocated by {g} steps"
        }
    ]

// ---------------------------------------------------------------- Winograd

/// Shapes that go through Winograd F(2×2, 3×3), with their output channels.
let private winogradCases =
    [ ConvGeometry(32, 14, 14, 3, 3, 1, 1), 64   // classic conv2
      ConvGeometry(32, 26, 26, 3, 3, 1, 0), 32   // best, first block
      ConvGeometry(32, 12, 12, 3, 3, 1, 0), 64   // best, second block
      ConvGeometry(8, 9, 7, 3, 3, 1, 1), 9       // odd sides: partial tiles (the weight gradient through im2col)
      ConvGeometry(16, 9, 7, 3, 3, 1, 1), 17     // the same with the Winograd weight gradient
      ConvGeometry(9, 5, 6, 3, 3, 1, 2), 8       // pad 2: BackwardData runs unpadded
      ConvGeometry(17, 5, 6, 3, 3, 1, 2), 16
      ConvGeometry(8, 3, 4, 3, 3, 1, 0), 10      // one row of tiles, one output row
      ConvGeometry(330, 4, 5, 3, 3, 1, 1), 8 ]   // more channels than one GEMM k-slice

let private withoutWinograd (f: unit -> 'a) =
    Convolution.WinogradAllowed <- false
    try f () finally Convolution.WinogradAllowed <- true

/// Forward, backward weights and backward data in float64: the yardstick for both paths' rounding.
let private convFloat64 (g: ConvGeometry) outC batch (x: float32[]) (w: float32[]) (bias: float32[]) (dy: float32[]) =
    let oh, ow = g.OutH, g.OutW
    let y = Array.zeroCreate<float> (batch * outC * oh * ow)
    let dx = Array.zeroCreate<float> (batch * g.ImageSize)
    let dw = Array.zeroCreate<float> (outC * g.ColRows)
    for n in 0 .. batch - 1 do
        for o in 0 .. outC - 1 do
            for oy in 0 .. oh - 1 do
                for ox in 0 .. ow - 1 do
                    let yi = ((n * outC + o) * oh + oy) * ow + ox
                    let mutable sum = float bias[o]
                    for c in 0 .. g.Channels - 1 do
                        for ky in 0 .. g.KernelH - 1 do
                            for kx in 0 .. g.KernelW - 1 do
                                let iy, ix = oy * g.Stride - g.Pad + ky, ox * g.Stride - g.Pad + kx
                                if iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width then
                                    let wi = ((o * g.Channels + c) * g.KernelH + ky) * g.KernelW + kx
                                    let xi = ((n * g.Channels + c) * g.Height + iy) * g.Width + ix
                                    sum <- sum + float w[wi] * float x[xi]
                                    dx[xi] <- dx[xi] + float dy[yi] * float w[wi]
                                    dw[wi] <- dw[wi] + float dy[yi] * float x[xi]
                    y[yi] <- sum
    y, dx, dw

/// The largest error against float64, relative to 1 + |expected|.
let private convError (expected: float[]) (actual: float32[]) =
    Seq.zip expected actual |> Seq.map (fun (e, a) -> abs (float a - e) / (1.0 + abs e)) |> Seq.max

let private winogradTransforms (d: float32[]) (g: float32[]) (v: float32[]) (u: float32[]) =
    use pd = fixed d
    use pg = fixed g
    use pv = fixed v
    use pu = fixed u
    WinogradTransforms.Input(pd, pv, 1L)
    WinogradTransforms.Kernel(pg, pu, 1L)

let private winogradOutput (m: float32[]) =
    use pm = fixed m
    let y0, y1, y2, y3 = WinogradTransforms.Output(pm, 1L, 0.0f)
    [| y0; y1; y2; y3 |]

let private winogradTests =
    testList "Winograd" [
        test "runs the 3×3 stride-1 shapes with 8 channels or more (the weight gradient from 16), and nothing else" {
            for (g, outC) in winogradCases do
                Expect.isTrue (WinogradConvolution.Applies(&g, outC)) $"{g} out {outC}"
                let weights = g.Channels >= 16 && outC >= 16
                Expect.equal (WinogradConvolution.AppliesToWeights(&g, outC)) weights $"{g} out {outC}, weight gradient"
            for (g, outC) in [ ConvGeometry(1, 28, 28, 3, 3, 1, 1), 32; ConvGeometry(32, 14, 14, 3, 3, 2, 1), 64
                               ConvGeometry(32, 14, 14, 5, 5, 1, 2), 64; ConvGeometry(32, 14, 14, 3, 3, 1, 3), 64
                               ConvGeometry(32, 14, 14, 3, 3, 1, 1), 7 ] do
                Expect.isFalse (WinogradConvolution.Applies(&g, outC)) $"{g} out {outC}"
        }

        test "forward, backward weights and backward data stay within 4× of im2col's error against float64" {
            for (g, outC) in winogradCases do
                for batch in [ 1; 3 ] do
                    let x, w, bias, dy = convInputs g outC batch 61
                    let y64, dx64, dw64 = convFloat64 g outC batch x w bias dy
                    let fast = convFast g outC batch x w bias dy (Workspace())
                    let direct = withoutWinograd (fun () -> convFast g outC batch x w bias dy (Workspace()))
                    for name, expected, wino, im2col in [ "y", y64, fast.Y, direct.Y; "dx", dx64, fast.Dx, direct.Dx; "dw", dw64, fast.Dw, direct.Dw ] do
                        let e, d = convError expected wino, convError expected im2col
                        // Measured: forward 0.5–1.5× of im2col's error, backward data 1.5–3.4× (its sums of 9 tile products);
                        // the floor 5e-7 (a few ulps of 1) covers the small sums where both are nearly exact.
                        if not (e <= 4.0 * max d 5e-7) then
                            failtestf "%O out %d batch %d %s: Winograd error %g, im2col %g" g outC batch name e d
        }

        test "matches the im2col path on every tile" {
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for (g, outC) in winogradCases do
                        let x, w, bias, dy = convInputs g outC 3 65
                        let direct = withoutWinograd (fun () -> convFast g outC 3 x w bias dy (Workspace()))
                        expectConv $"{path} {g} out {outC}" g 3 direct (convFast g outC 3 x w bias dy (Workspace())))
        }

        test "is bit-identical whatever the thread count" {
            // Batch 9: blocks of 64 tiles span images, and BackwardWeights sums 8 groups.
            expectSameOnAnyThreads [ for (g, outC) in winogradCases do for batch in [ 1; 3; 9 ] -> g, outC, batch ] 71
        }

        test "the transforms of a known tile match the formulas in float64" {
            // One input channel's tile through Bᵀ d B, a kernel through G g Gᵀ, and back.
            let d = Array.init 16 (fun i -> float32 (i * i % 7) - 2.5f)
            let g = [| 1.0f; -2.0f; 0.5f; 3.0f; 0.25f; -1.0f; 2.0f; 1.5f; -0.75f |]
            let bt = array2D [ [ 1.; 0.; -1.; 0. ]; [ 0.; 1.; 1.; 0. ]; [ 0.; -1.; 1.; 0. ]; [ 0.; 1.; 0.; -1. ] ]
            let gm = array2D [ [ 1.; 0.; 0. ]; [ 0.5; 0.5; 0.5 ]; [ 0.5; -0.5; 0.5 ]; [ 0.; 0.; 1. ] ]
            let at = array2D [ [ 1.; 1.; 1.; 0. ]; [ 0.; 1.; -1.; -1. ] ]
            let mul (a: float[,]) (b: float[,]) =
                Array2D.init (Array2D.length1 a) (Array2D.length2 b) (fun i j ->
                    Seq.sum (seq { for k in 0 .. Array2D.length2 a - 1 -> a[i, k] * b[k, j] }))
            let tr (a: float[,]) = Array2D.init (Array2D.length2 a) (Array2D.length1 a) (fun i j -> a[j, i])
            let dm = Array2D.init 4 4 (fun i j -> float d[4 * i + j])
            let gk = Array2D.init 3 3 (fun i j -> float g[3 * i + j])
            let v = mul (mul bt dm) (tr bt)
            let u = mul (mul gm gk) (tr gm)
            let y = mul (mul at (Array2D.init 4 4 (fun i j -> u[i, j] * v[i, j]))) (tr at)
            let v32, u32 = Array.zeroCreate<float32> 16, Array.zeroCreate<float32> 16
            winogradTransforms d g v32 u32
            for i in 0 .. 15 do
                Expect.floatClose Accuracy.veryHigh (float v32[i]) v[i / 4, i % 4] $"V element {i}"
                Expect.floatClose Accuracy.veryHigh (float u32[i]) u[i / 4, i % 4] $"U element {i}"
            // And the 2×2 output equals the direct 3×3 convolution of d.
            let out = winogradOutput (Array.init 16 (fun i -> u32[i] * v32[i]))
            for oy in 0 .. 1 do
                for ox in 0 .. 1 do
                    let direct = Seq.sum (seq { for ky in 0 .. 2 do for kx in 0 .. 2 -> gk[ky, kx] * dm[oy + ky, ox + kx] })
                    Expect.floatClose Accuracy.high (float out[2 * oy + ox]) direct $"output ({oy}, {ox})"
                    Expect.floatClose Accuracy.high y[oy, ox] direct $"float64 formulas ({oy}, {ox})"
        }
    ]

// ---------------------------------------------------------------- pooling

let private poolGeometries =
    [ // channels, height, width, size, stride
      PoolGeometry(3, 28, 28, 2, 2)
      PoolGeometry(2, 14, 14, 2, 2)
      PoolGeometry(2, 7, 7, 2, 2)      // odd: last row and column unused
      PoolGeometry(1, 9, 20, 2, 2)
      PoolGeometry(2, 33, 35, 2, 2)    // vector body, scalar tail, odd width
      PoolGeometry(2, 7, 8, 3, 2)      // overlapping windows
      PoolGeometry(1, 6, 6, 3, 3)
      PoolGeometry(2, 5, 9, 2, 1)
      PoolGeometry(3, 2, 6, 2, 2)      // one output row: every row is a plane's last
      PoolGeometry(2, 5, 4, 2, 2) ]    // rows of two outputs, an unused last row

/// A convolution's output y and its 2×2 max pooling (geometry, pooled values, winners), the two passes apart.
let private convThenPool (g: ConvGeometry) outC batch (x: float32[]) (w: float32[]) (bias: float32[]) =
    let y = Array.zeroCreate<float32> (batch * outC * g.ColCols)
    Convolution.Forward(&g, outC, batch, x, w, bias, y, Workspace())
    let pool = PoolGeometry(outC, g.OutH, g.OutW, 2, 2)
    let outputs = batch * outC * pool.OutPlane
    let pooled, argmax = Array.zeroCreate<float32> outputs, Array.zeroCreate<int> outputs
    Pooling.MaxForward(&pool, batch, y, pooled, argmax)
    y, pool, pooled, argmax

let private poolingTests =
    testList "Pooling" [
        test "max forward and backward equal the reference, ties included" {
            for g in poolGeometries do
                for values in [ rand 61; coarse 62 ] do
                    let batch = 2
                    let x = values (batch * g.Channels * g.InPlane)
                    let outputs = batch * g.Channels * g.OutPlane
                    let y1, y2 = Array.zeroCreate<float32> outputs, Array.zeroCreate<float32> outputs
                    let a1, a2 = Array.zeroCreate<int> outputs, Array.create<int> outputs -1
                    PoolingReference.MaxForward(&g, batch, x, y1, a1)
                    Pooling.MaxForward(&g, batch, x, y2, a2)
                    expectSame $"max {g} y" y1 y2
                    Expect.sequenceEqual a2 a1 $"max {g} argmax"
                    let dy = rand 63 outputs
                    let dx1, dx2 = rand 64 x.Length, rand 65 x.Length
                    PoolingReference.MaxBackward(&g, batch, dy, a1, dx1)
                    Pooling.MaxBackward(&g, batch, dy, a1, dx2)
                    expectSame $"max backward {g}" dx1 dx2
        }

        test "a convolution fused with 2x2 max pooling gives the bits of the two passes, or declines" {
            // (input geometry, output channels, whether a fused kernel takes it)
            let cases =
                (winogradCases |> List.filter (fun (g, _) -> g.OutH >= 2 && g.OutW >= 2) |> List.map (fun (g, outC) -> g, outC, true))
                @ [ ConvGeometry(1, 28, 28, 3, 3, 1, 1), 32, true     // classic conv1: direct (AVX-512), else Winograd does not apply
                    ConvGeometry(1, 7, 21, 3, 3, 1, 2), 4, true       // direct, odd output: the last row and column unpooled
                    ConvGeometry(4, 11, 12, 5, 5, 1, 2), 5, false ]   // im2col: declined
            for path in gemmPaths do
                withGemmPath path (fun () ->
                    for threads in threadCounts do
                        withThreads threads (fun () ->
                            for (g, outC, fusable) in cases do
                                for values in [ rand; coarse ] do
                                    let batch = 3
                                    // Integer levels make ties within windows; zeros of both signs among them.
                                    let x = values 81 (batch * g.ImageSize)
                                    for i in 0 .. 5 .. x.Length - 1 do x[i] <- if i % 2 = 0 then 0.0f else -0.0f
                                    let w, bias = values 82 (outC * g.ColRows), values 83 outC
                                    let _, pool, pooled, argmax = convThenPool g outC batch x w bias
                                    let outputs = pooled.Length
                                    let fusedPooled, fusedArgmax = Array.create outputs nanf, Array.create outputs -1
                                    let fused = Convolution.ForwardPooled(&g, outC, batch, x, w, bias, &pool, fusedPooled, fusedArgmax, Workspace())
                                    let what = $"{path} {g} out {outC}, {threads} threads"
                                    let expected = fusable && Runtime.Intrinsics.X86.Avx2.IsSupported
                                                   && (g.Channels > 1 || Runtime.Intrinsics.X86.Avx512F.IsSupported && path = GemmPath.Avx512)
                                    Expect.equal fused expected $"{what}: fused"
                                    if fused then
                                        expectSame $"{what}: pooled" pooled fusedPooled
                                        Expect.sequenceEqual fusedArgmax argmax $"{what}: argmax"
                                    else
                                        Expect.isTrue (Array.forall Single.IsNaN fusedPooled) $"{what}: declined, yet wrote"))
        }

        test "a weight gradient taken through 2x2 max pooling gives the bits of the two passes, or declines" {
            // (input geometry, output channels, whether the fused kernel takes it)
            let cases =
                [ ConvGeometry(1, 28, 28, 3, 3, 1, 1), 32, true     // classic conv1 (im2col, dWᵀ = cols·dyᵀ)
                  ConvGeometry(1, 7, 21, 3, 3, 1, 2), 4, true       // odd output: the last row and column get no gradient
                  ConvGeometry(3, 6, 8, 1, 1, 1, 0), 4, true        // 1×1: x is its own column matrix
                  ConvGeometry(4, 11, 12, 5, 5, 1, 2), 5, true      // 5×5, dW = dy·colsᵀ
                  ConvGeometry(16, 9, 7, 3, 3, 1, 1), 17, false ]   // Winograd weight gradient: declined
            for threads in threadCounts do
                withThreads threads (fun () ->
                    for (g, outC, fusable) in cases do
                        for values in [ rand; coarse ] do
                            let batch = 9 // more images than weight groups
                            let x = values 91 (batch * g.ImageSize)
                            let w, bias = values 92 (outC * g.ColRows), values 93 outC
                            let y, pool, _, argmax = convThenPool g outC batch x w bias
                            let outputs = argmax.Length
                            let pooledGrad = rand 94 outputs
                            for i in 0 .. 6 .. outputs - 1 do pooledGrad[i] <- if i % 4 = 0 then 0.0f else -0.0f
                            let dy = Array.zeroCreate<float32> y.Length
                            Pooling.MaxBackward(&pool, batch, pooledGrad, argmax, dy)
                            let dw, db = Array.zeroCreate<float32> w.Length, Array.zeroCreate<float32> outC
                            Convolution.BackwardWeights(&g, outC, batch, x, dy, dw, db, Workspace())
                            let fusedDw, fusedDb = Array.create w.Length nanf, Array.create outC nanf
                            let fused = Convolution.BackwardWeightsPooled(&g, outC, batch, x, &pool, pooledGrad, argmax, fusedDw, fusedDb, Workspace())
                            let what = $"{g} out {outC}, {threads} threads"
                            Expect.equal fused fusable $"{what}: fused"
                            if fused then
                                expectSame $"{what}: dw" dw fusedDw
                                expectSame $"{what}: db" db fusedDb
                            else
                                Expect.isTrue (Array.forall Single.IsNaN fusedDw) $"{what}: declined, yet wrote")
        }

        test "large batches (cut into plane ranges for the threads) equal the reference" {
            for g in [ PoolGeometry(32, 28, 28, 2, 2); PoolGeometry(5, 31, 29, 3, 2) ] do
                for threads in threadCounts do
                    withThreads threads (fun () ->
                        let batch = 9
                        let x = coarse 66 (batch * g.Channels * g.InPlane)
                        let outputs = batch * g.Channels * g.OutPlane
                        let y1, y2 = Array.zeroCreate<float32> outputs, Array.zeroCreate<float32> outputs
                        let a1, a2 = Array.zeroCreate<int> outputs, Array.zeroCreate<int> outputs
                        PoolingReference.MaxForward(&g, batch, x, y1, a1)
                        Pooling.MaxForward(&g, batch, x, y2, a2)
                        expectSame $"max {g}, {threads} threads" y1 y2
                        Expect.sequenceEqual a2 a1 $"argmax {g}, {threads} threads"
                        let dy = rand 67 outputs
                        let dx1, dx2 = Array.zeroCreate<float32> x.Length, rand 68 x.Length
                        PoolingReference.MaxBackward(&g, batch, dy, a1, dx1)
                        Pooling.MaxBackward(&g, batch, dy, a1, dx2)
                        expectSame $"max backward {g}, {threads} threads" dx1 dx2)
        }

        test "max pooling writes nothing past the batch's planes" {
            // Short and odd rows end in masked vectors: nothing may land past the last plane, whatever the buffer's size.
            for g in poolGeometries do
                let batch = 2
                let x = rand 69 (batch * g.Channels * g.InPlane)
                let outputs = batch * g.Channels * g.OutPlane
                let spare = 16
                let y = Array.create (outputs + spare) 7.0f
                let argmax = Array.create (outputs + spare) -7
                Pooling.MaxForward(&g, batch, x, y, argmax)
                Expect.sequenceEqual y[outputs..] (Array.create spare 7.0f) $"y past the outputs, {g}"
                Expect.sequenceEqual argmax[outputs..] (Array.create spare -7) $"argmax past the outputs, {g}"
                let dx = Array.create (x.Length + spare) 7.0f
                Pooling.MaxBackward(&g, batch, rand 70 outputs, argmax, dx)
                Expect.sequenceEqual dx[x.Length..] (Array.create spare 7.0f) $"dx past the inputs, {g}"
        }

        test "max backward scatters a winner outside its window like the reference" {
            let g = PoolGeometry(2, 4, 4, 2, 2)
            let argmax = Array.zeroCreate<int> 8
            Pooling.MaxForward(&g, 1, rand 1 32, Array.zeroCreate<float32> 8, argmax)
            argmax[1] <- 0 // output 1's window starts at column 2; input 0 is in the same plane
            let dy = rand 2 8
            let expected, actual = Array.zeroCreate<float32> 32, rand 3 32
            PoolingReference.MaxBackward(&g, 1, dy, argmax, expected)
            Pooling.MaxBackward(&g, 1, dy, argmax, actual)
            expectSame "scatter" expected actual
        }

        test "max backward refuses a winner outside its output's plane" {
            let g = PoolGeometry(2, 4, 4, 2, 2)
            let argmax = Array.zeroCreate<int> 8
            Pooling.MaxForward(&g, 1, rand 1 32, Array.zeroCreate<float32> 8, argmax)
            argmax[5] <- 3 // output 5 is in plane 1, input 3 in plane 0
            Expect.throwsT<ArgumentException> (fun () ->
                Pooling.MaxBackward(&g, 1, rand 2 8, argmax, Array.zeroCreate<float32> 32)) "winner in another plane"
        }

        test "average forward and backward equal the reference" {
            for g in poolGeometries do
                let batch = 2
                let x = rand 71 (batch * g.Channels * g.InPlane)
                let outputs = batch * g.Channels * g.OutPlane
                let y1, y2 = Array.zeroCreate<float32> outputs, Array.zeroCreate<float32> outputs
                PoolingReference.AvgForward(&g, batch, x, y1)
                Pooling.AvgForward(&g, batch, x, y2)
                expectSame $"avg {g}" y1 y2
                let dy = rand 72 outputs
                let dx1, dx2 = rand 73 x.Length, rand 74 x.Length
                PoolingReference.AvgBackward(&g, batch, dy, dx1)
                Pooling.AvgBackward(&g, batch, dy, dx2)
                expectSame $"avg backward {g}" dx1 dx2
        }
    ]

// ---------------------------------------------------------------- element-wise

/// Short lengths for the vector bodies and tails, long ones for the chunks the threads share.
let private lengths = [ 0; 1; 7; 8; 9; 31; 64; 1000; 1003; 200_003; 1_605_632 ]

/// Random values with NaN, ±0 and exact zeros mixed in, to pin down the comparisons.
let private awkward seed n =
    let values = rand seed n
    for i in 0 .. n - 1 do
        match i % 11 with
        | 3 -> values[i] <- 0.0f
        | 5 -> values[i] <- -0.0f
        | 7 -> values[i] <- nanf
        | _ -> ()
    values

let private elementwiseTests =
    testList "Elementwise" [
        test "relu and its backward equal the reference" {
            for threads in threadCounts do
                withThreads threads (fun () ->
                    for n in lengths do
                        let x, dy = awkward 81 n, rand 82 n
                        let y1, y2 = Array.create n 9.0f, Array.create n 9.0f
                        ElementwiseReference.Relu(x, y1)
                        Elementwise.Relu(x, y2)
                        expectSame $"relu {n}, {threads} threads" y1 y2
                        ElementwiseReference.ReluBackward(x, dy, y1)
                        Elementwise.ReluBackward(x, dy, y2)
                        expectSame $"relu backward {n}, {threads} threads" y1 y2)
        }

        test "biases and sums equal the reference" {
            for rows, cols in [ 1, 1; 3, 7; 4, 8; 5, 17; 64, 128; 2, 1003 ] do
                let bias = rand 83 cols
                let m1, m2 = rand 84 (rows * cols), rand 84 (rows * cols)
                ElementwiseReference.AddRowBias(m1, rows, bias)
                Elementwise.AddRowBias(m2, rows, bias)
                expectSame $"row bias {rows}x{cols}" m1 m2
                let s1, s2 = rand 85 cols, rand 86 cols
                ElementwiseReference.SumRows(m1, rows, s1)
                Elementwise.SumRows(m1, rows, s2)
                expectSame $"sum rows {rows}x{cols}" s1 s2
            for batch, channels, plane in [ 1, 1, 1; 2, 3, 7; 3, 4, 196; 2, 32, 784; 1, 5, 1003 ] do
                let x1 = rand 88 (batch * channels * plane)
                let s1, s2 = rand 89 channels, rand 90 channels
                ElementwiseReference.SumChannels(x1, batch, plane, s1)
                Elementwise.SumChannels(x1, batch, plane, s2)
                expectClose (sumTolerance (batch * plane)) $"sum channels {batch}x{channels}x{plane}" s1 s2
        }

        test "channel sums give the same bits on any thread count (large enough to be split)" {
            for batch, channels, plane in [ 64, 32, 784; 16, 3, 10007; 64, 64, 196; 3, 0, 11 ] do
                let x = rand 93 (batch * channels * plane)
                let sums threads =
                    withThreads threads (fun () ->
                        let s = rand 94 channels
                        Elementwise.SumChannels(x, batch, plane, s)
                        s)
                let serial = sums 1
                for threads in threadCounts do
                    expectSame $"sum channels {batch}x{channels}x{plane}, {threads} threads" serial (sums threads)
        }

        test "axpy, add and scale equal the reference" {
            for threads in threadCounts do
                withThreads threads (fun () ->
                    for n in lengths do
                        let x = rand 91 n
                        let y1, y2 = rand 92 n, rand 92 n
                        ElementwiseReference.Axpy(0.37f, x, y1)
                        Elementwise.Axpy(0.37f, x, y2)
                        expectSame $"axpy {n}, {threads} threads" y1 y2
                        let s1, s2 = Array.create n 9.0f, Array.create n 9.0f
                        ElementwiseReference.Add(x, y1, s1)
                        Elementwise.Add(x, y2, s2)
                        expectSame $"add {n}, {threads} threads" s1 s2
                        ElementwiseReference.Scale(y1, -1.7f)
                        Elementwise.Scale(y2, -1.7f)
                        expectSame $"scale {n}, {threads} threads" y1 y2)
        }
    ]

// ---------------------------------------------------------------- activations, batch norm, dropout

let private zeros n : float32[] = Array.zeroCreate n

/// The largest error of f against the float64 g over a grid of [lo, hi] (relative unless absolute).
let private worstError (f: float32 -> float32) (g: float -> float) lo hi absolute =
    let n = 400_000
    seq {
        for i in 0 .. n do
            let x = lo + (hi - lo) * float32 i / float32 n
            let e, a = g (float x), float (f x)
            yield if absolute then abs (a - e) else abs (a - e) / max (abs e) 1e-300
    }
    |> Seq.max

let private activationFunctions =
    [ ActivationFunction(ActivationOp.Relu); ActivationFunction(ActivationOp.LeakyRelu, 0.01f)
      ActivationFunction(ActivationOp.Elu, 1.3f); ActivationFunction(ActivationOp.Swish)
      ActivationFunction(ActivationOp.Sigmoid); ActivationFunction(ActivationOp.Tanh) ]

let private activationTests =
    testList "Activations" [
        test "exp, the logistic function and tanh keep the error bounds VectorMath states" {
            Expect.isLessThanOrEqual (worstError VectorMath.Exp exp -87.0f 88.0f false) 1.2e-7 "exp, relative"
            Expect.isLessThanOrEqual (worstError VectorMath.Exp exp -110.0f -87.0f true) 2e-45 "exp below -87, absolute"
            Expect.isLessThanOrEqual (worstError VectorMath.Logistic (fun x -> 1.0 / (1.0 + exp -x)) -87.0f 100.0f false) 2.5e-7 "logistic, relative"
            Expect.isLessThanOrEqual (worstError VectorMath.Logistic (fun x -> 1.0 / (1.0 + exp -x)) -110.0f -87.0f true) 2e-45 "logistic below -87, absolute"
            Expect.isLessThanOrEqual (worstError VectorMath.Tanh tanh -100.0f 100.0f false) 3e-7 "tanh, relative"
            Expect.isLessThanOrEqual (worstError VectorMath.Tanh tanh -0.01f 0.01f false) 3e-7 "tanh near 0, relative"
            Expect.isLessThanOrEqual (worstError VectorMath.Tanh tanh -100.0f 100.0f true) 3e-7 "tanh, absolute"
        }

        test "vector lanes and the scalar tail give the reference's bits" {
            let lanes = Numerics.Vector<float32>.Count
            let x = Array.init (lanes * 8 + 3) (fun i -> float32 (i - 4 * lanes) * 0.37f)
            let vector = zeros x.Length
            let scalar = Array.init x.Length (fun i -> VectorMath.Exp x[i])
            for i in 0 .. lanes .. x.Length - lanes do
                VectorMath.Exp(Numerics.Vector<float32>(x, i)).CopyTo(vector, i)
            expectSame "exp" scalar[.. x.Length - 4] vector[.. x.Length - 4]
        }

        test "every activation and its backward equal the scalar reference, any thread count" {
            for f in activationFunctions do
                for threads in threadCounts do
                    withThreads threads (fun () ->
                        for n in [ 0; 1; 7; 9; 1003; 200_003 ] do
                            let x = rand 93 n |> Array.map (fun v -> v * 12.0f)
                            let dy = rand 94 n
                            let y1, y2 = Array.create n 9.0f, Array.create n 9.0f
                            ActivationReference.Apply(f, x, y1)
                            ActivationKernels.Apply(f, x, y2)
                            expectSame $"{f.Op} {n}, {threads} threads" y1 y2
                            let d1, d2 = Array.create n 9.0f, Array.create n 9.0f
                            ActivationReference.Derive(f, x, y1, dy, d1)
                            ActivationKernels.Derive(f, x, y1, dy, d2)
                            expectSame $"{f.Op} backward {n}, {threads} threads" d1 d2)
        }
    ]

let private batchNormShapes = [ 2, 1, 1; 3, 5, 1; 2, 3, 7; 4, 8, 26 * 26; 64, 32, 13 * 13; 3, 2, 1003; 5, 7, 49; 3, 6, 20 ]

let private batchNormKernelTests =
    testList "BatchNorm" [
        test "training forward equals the reference loops, the same bits on any thread count" {
            for batch, channels, plane in batchNormShapes do
                let x = rand 95 (batch * channels * plane) |> Array.map (fun v -> 3.0f * v + 0.5f)
                let gamma, beta = rand 96 channels, rand 97 channels
                let run threads =
                    withThreads threads (fun () ->
                        let rm, rv, m, s = rand 98 channels, Array.create channels 1.0f, zeros channels, zeros channels
                        let xhat, y = zeros x.Length, zeros x.Length
                        BatchNormKernels.TrainingForward(x, batch, channels, plane, 0.1f, 1e-5f, rm, rv, m, s, gamma, beta, xhat, y)
                        [ rm; rv; m; s; xhat; y ])
                let rm, rv, m, s = rand 98 channels, Array.create channels 1.0f, zeros channels, zeros channels
                BatchNormReference.Statistics(x, batch, channels, plane, 0.1f, 1e-5f, rm, rv, m, s)
                let xhat, y = zeros x.Length, zeros x.Length
                BatchNormReference.Apply(x, batch, channels, plane, m, s, gamma, beta, xhat, y)
                let what = $"{batch}x{channels}x{plane}"
                let one = run 1
                List.zip3 [ "running mean"; "running var"; "mean"; "invStd"; "xhat"; "y" ] [ rm; rv; m; s; xhat; y ] one
                |> List.iter (fun (name, expected, actual) -> expectClose 1e-6f $"{what} {name}" expected actual)
                for threads in threadCounts do
                    List.iter2 (expectSame $"{what}, {threads} threads") one (run threads)
        }

        test "a channel's numbers do not depend on the channels beside it (sums taken side by side keep each one's order)" {
            for batch, channels, plane in batchNormShapes do
                let n = batch * channels * plane
                let x, dy = rand 110 n |> Array.map (fun v -> 2.0f * v - 0.3f), rand 111 n
                let gamma, beta = rand 112 channels, rand 113 channels
                let forward (x: float32[]) channels (gamma: float32[]) (beta: float32[]) (dy: float32[]) =
                    let size = x.Length
                    let rm, rv, m, s = zeros channels, Array.create channels 1.0f, zeros channels, zeros channels
                    let xhat, y, dg, db, dx = zeros size, zeros size, zeros channels, zeros channels, zeros size
                    BatchNormKernels.TrainingForward(x, batch, channels, plane, 0.1f, 1e-5f, rm, rv, m, s, gamma, beta, xhat, y)
                    BatchNormKernels.Backward(dy, xhat, gamma, s, batch, channels, plane, true, dg, db, dx)
                    [ rm; rv; m; s; xhat; y; dg; db; dx ]
                let all = forward x channels gamma beta dy
                /// Channel c's slices of a [batch, channels, plane] array, as a [batch, 1, plane] one.
                let slices c (a: float32[]) = Array.init batch (fun b -> a[(b * channels + c) * plane .. (b * channels + c + 1) * plane - 1]) |> Array.concat
                for c in 0 .. channels - 1 do
                    let alone = forward (slices c x) 1 [| gamma[c] |] [| beta[c] |] (slices c dy)
                    let mine = all |> List.map (fun a -> if a.Length = channels then [| a[c] |] else slices c a)
                    List.iter2 (expectSame $"{batch}x{channels}x{plane}, channel {c}") alone mine
        }

        test "apply and backward equal the reference loops; backward the same bits on any thread count" {
            for batch, channels, plane in batchNormShapes do
                let n = batch * channels * plane
                let x, dy = rand 99 n, rand 100 n
                let mean, invStd, gamma, beta = rand 101 channels, rand 102 channels |> Array.map abs, rand 103 channels, rand 104 channels
                let h1, y1, h2, y2 = zeros n, zeros n, zeros n, zeros n
                BatchNormReference.Apply(x, batch, channels, plane, mean, invStd, gamma, beta, h1, y1)
                BatchNormKernels.Apply(x, batch, channels, plane, mean, invStd, gamma, beta, h2, y2)
                expectSame "xhat" h1 h2
                expectSame "y" y1 y2
                for training in [ true; false ] do
                    let g1, b1, d1 = zeros channels, zeros channels, zeros n
                    let g2, b2, d2 = zeros channels, zeros channels, zeros n
                    BatchNormReference.Backward(dy, h1, gamma, invStd, batch, channels, plane, training, g1, b1, d1)
                    BatchNormKernels.Backward(dy, h1, gamma, invStd, batch, channels, plane, training, g2, b2, d2)
                    let what = $"{batch}x{channels}x{plane} training={training}"
                    expectClose 1e-6f $"{what} dgamma" g1 g2
                    expectClose 1e-6f $"{what} dbeta" b1 b2
                    expectClose 1e-5f $"{what} dx" d1 d2
                    for threads in threadCounts do
                        withThreads threads (fun () ->
                            let g3, b3, d3 = zeros channels, zeros channels, zeros n
                            BatchNormKernels.Backward(dy, h1, gamma, invStd, batch, channels, plane, training, g3, b3, d3)
                            List.iter2 (expectSame $"{what}, {threads} threads") [ g2; b2; d2 ] [ g3; b3; d3 ])
        }
    ]

let private dropoutKernelTests =
    testList "Dropout" [
        test "the fused mask and product are the stream's mask times x, any thread count and counter" {
            for counter in [ 0UL; 3UL; 1_000_001UL ] do
                for n in [ 0; 1; 5; 1003; 200_003 ] do
                    let random = Mnist.Core.Backends.RandomStream(77UL, 2UL, counter)
                    let x = rand 105 n
                    let expected = Array.init n (fun i -> if random.Unit(uint64 i) >= 0.3f then 1.0f / 0.7f else 0.0f)
                    for threads in threadCounts do
                        withThreads threads (fun () ->
                            let mask, y = Array.create n 9.0f, Array.create n 9.0f
                            DropoutKernels.Forward(x, mask, 0.3f, &random, y)
                            expectSame $"mask {n} from {counter}, {threads} threads" expected mask
                            expectSame $"product {n}" (Array.map2 (*) x expected) y
                            DropoutKernels.Forward(ReadOnlySpan.Empty, mask, 0.3f, &random, Span.Empty)
                            expectSame $"mask alone {n}" expected mask)
        }
    ]

// ---------------------------------------------------------------- the kernel threads

/// Counts the runs of each task and records which thread index ran it.
type private CountingWork(count: int, ?failAt: int) =
    let runs = Array.zeroCreate<int> count
    let threads = Array.create count -1
    member _.Runs = runs
    member _.Threads = threads
    interface IParallelWork with
        member _.Run(task, thread) =
            Threading.Interlocked.Increment(&runs[task]) |> ignore
            threads[task] <- thread
            if failAt = Some task then failwith "task failed on purpose"

let private threadTests =
    testList "KernelThreads" [
        test "every task runs exactly once, on threads numbered below the thread count" {
            for threads in threadCounts do
                withThreads threads (fun () ->
                    for count in [ 0; 1; 2; 3; 5; 17; 1000 ] do
                        for _round in 1 .. 20 do
                            let work = CountingWork(count)
                            KernelThreads.For(count, work)
                            Expect.isTrue (work.Runs |> Array.forall ((=) 1)) $"{count} tasks, {threads} threads: each once"
                            Expect.isTrue (work.Threads |> Array.forall (fun t -> t >= 0 && t < min threads (max count 1)))
                                $"{count} tasks, {threads} threads: thread indices")
        }

        test "a failing task's exception surfaces, and the threads serve the next job" {
            for threads in threadCounts do
                withThreads threads (fun () ->
                    let work = CountingWork(64, failAt = 40)
                    Expect.throws (fun () -> KernelThreads.For(64, work)) "the failure is thrown"
                    Expect.isTrue (work.Runs |> Array.forall (fun n -> n <= 1)) "no task ran twice"
                    let next = CountingWork(64)
                    KernelThreads.For(64, next)
                    Expect.isTrue (next.Runs |> Array.forall ((=) 1)) "the next job runs whole")
        }
    ]

[<Tests>]
let tests =
    testSequencedGroup TestData.kernelSettings
    <| testList "Kernels" [
        threadTests; gemmTests; im2colTests; convolutionTests; winogradTests; poolingTests; elementwiseTests
        activationTests; batchNormKernelTests; dropoutKernelTests ]
