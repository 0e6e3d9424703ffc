module Mnist.Tests.IdxTests

open System
open System.IO
open System.IO.Compression
open Expecto
open Mnist.Core
open Mnist.Core.Data
open Mnist.Tests.TestData

let private header (typ: byte) (dims: int list) =
    [| yield 0uy; yield 0uy; yield typ; yield byte dims.Length
       for d in dims do yield! (BitConverter.GetBytes d |> Array.rev) |]

let private gzip (bytes: byte[]) =
    use buffer = new MemoryStream()
    (use z = new GZipStream(buffer, CompressionLevel.Fastest) in z.Write(bytes, 0, bytes.Length))
    buffer.ToArray()

/// The message IdxFile.Read gives for a file holding these bytes.
let private refusal (dir: TempDir) name (bytes: byte[]) rank =
    let path = Path.Combine(dir.Path, name)
    File.WriteAllBytes(path, bytes)
    let e = throws<IdxFormatException> (fun () -> IdxFile.Read(path, rank) |> ignore)
    e

let private problemOf (dir: TempDir) bytes rank =
    try
        let path = Path.Combine(dir.Path, "x")
        File.WriteAllBytes(path, (bytes: byte[]))
        IdxFile.Read(path, rank) |> ignore
        failtest "the file was accepted"
    with :? IdxFormatException as e -> e.Problem

/// A small split written as the four standard files.
let writeDataset (dir: string) (compress: bool) trainCount testCount =
    let rng = Random 7
    let ext = if compress then ".gz" else ""
    let write name dims (data: byte[]) = IdxFile.Write(Path.Combine(dir, name + ext), dims, ReadOnlySpan data)
    let images n = Array.init (n * 28 * 28) (fun _ -> byte (rng.Next 256))
    let labels n = Array.init n (fun i -> byte (i % 10))
    write MnistFiles.TrainImages [| trainCount; 28; 28 |] (images trainCount)
    write MnistFiles.TrainLabels [| trainCount |] (labels trainCount)
    write MnistFiles.TestImages [| testCount; 28; 28 |] (images testCount)
    write MnistFiles.TestLabels [| testCount |] (labels testCount)

[<Tests>]
let tests =
    testList "Idx" [
        for compress in [ false; true ] do
            test $"round trip (gzip={compress})" {
                use dir = new TempDir()
                let data = Array.init (3 * 4 * 5) byte
                let path = Path.Combine(dir.Path, if compress then "a.gz" else "a")
                IdxFile.Write(path, [| 3; 4; 5 |], ReadOnlySpan data)
                let back = IdxFile.Read(path, 3)
                Expect.equal back.Dims [| 3; 4; 5 |] "dims"
                Expect.equal back.Data data "payload"
            }

        test "every corruption has its own message" {
            use dir = new TempDir()
            let good = Array.append (header 8uy [ 2; 3 ]) (Array.zeroCreate 6)
            let cases =
                [ "too short", [| 0uy; 0uy |], 2
                  "wrong magic", Array.append [| 1uy; 2uy |] good[2..], 2
                  "unknown element type", Array.append (header 0x42uy [ 2; 3 ]) (Array.zeroCreate 6), 2
                  "element type is float32", Array.append (header 0x0Duy [ 2; 3 ]) (Array.zeroCreate 24), 2
                  "has 2 dimensions, expected 3", good, 3
                  "truncated header", good[..6], 2
                  "truncated: the header promises 6", good[..good.Length - 2], 2
                  "unexpected bytes after", Array.append good [| 1uy |], 2
                  "dimension 0 is 0", header 8uy [ 0; 3 ], 2
                  "corrupt gzip stream", Array.append [| 0x1Fuy; 0x8Buy |] (Array.create 30 7uy), 2
                  "truncated gzip stream", (let z = gzip good in z[.. z.Length / 2]), 2 ]
            let problems =
                [ for expected, bytes, rank in cases do
                      let problem = problemOf dir bytes rank
                      Expect.stringContains problem expected $"case '{expected}'"
                      problem ]
            Expect.equal (List.distinct problems).Length problems.Length "each case reads differently"
        }

        test "a gzipped file inflating far past its header costs only what the header promises" {
            use dir = new TempDir()
            // 2 images of 28x28 promised, 256 MiB of zeros inflated
            let bomb =
                use buffer = new MemoryStream()
                (use z = new GZipStream(buffer, CompressionLevel.Optimal)
                 z.Write(header 8uy [ 2; 28; 28 ])
                 let zeros = Array.zeroCreate (1 <<< 20)
                 for _ in 1 .. 256 do z.Write(zeros, 0, zeros.Length))
                buffer.ToArray()
            let before = GC.GetAllocatedBytesForCurrentThread()
            let problem = problemOf dir bomb 3
            let allocated = GC.GetAllocatedBytesForCurrentThread() - before
            Expect.stringContains problem "unexpected bytes after the 1568 the header promises" "refused"
            Expect.isLessThan allocated (8L <<< 20) $"allocated {allocated} bytes"
        }

        test "a refusal names the file and fits on one line" {
            use dir = new TempDir()
            let e = refusal dir "bad-file" [| 9uy; 9uy; 9uy; 9uy |] 1
            Expect.stringContains e.Message "bad-file" "names the file"
            Expect.isFalse (e.Message.Contains '\n') "one line"
        }

        test "image and label counts must agree" {
            use dir = new TempDir()
            writeDataset dir.Path false 20 10
            IdxFile.Write(Path.Combine(dir.Path, MnistFiles.TrainLabels), [| 19 |], ReadOnlySpan(Array.zeroCreate<byte> 19))
            let e = throws<IdxFormatException> (fun () -> MnistDataset.Load dir.Path |> ignore)
            Expect.stringContains e.Problem "holds 19 labels but train-images-idx3-ubyte holds 20 images" ""
        }

        test "labels outside 0..9 are refused" {
            use dir = new TempDir()
            writeDataset dir.Path true 20 10
            File.Delete(Path.Combine(dir.Path, MnistFiles.TestLabels + ".gz"))
            IdxFile.Write(Path.Combine(dir.Path, MnistFiles.TestLabels), [| 10 |], ReadOnlySpan(Array.create 10 12uy))
            let e = throws<IdxFormatException> (fun () -> MnistDataset.Load dir.Path |> ignore)
            Expect.stringContains e.Problem "label 12 at index 0 is outside 0..9" ""
        }

        test "a folder lacking files says which" {
            use dir = new TempDir()
            writeDataset dir.Path false 20 10
            File.Delete(Path.Combine(dir.Path, MnistFiles.TestImages))
            let e = throws<MnistException> (fun () -> MnistDataset.Load dir.Path |> ignore)
            Expect.stringContains e.Message "lacks t10k-images-idx3-ubyte" ""
        }

        test "any folder with the four names loads (raw or gzip mixed)" {
            use dir = new TempDir()
            writeDataset dir.Path true 30 12
            let raw = Path.Combine(dir.Path, MnistFiles.TestLabels)
            File.WriteAllBytes(raw, IdxFile.ReadBytes(raw + ".gz"))
            File.Delete(raw + ".gz")
            let data = MnistDataset.Load dir.Path
            Expect.equal data.Train.Count 30 "train"
            Expect.equal data.Test.Count 12 "test"
            Expect.equal (data.Train.LabelCounts() |> Array.sum) 30 "labels"
        }
    ]
