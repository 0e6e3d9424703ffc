/// Where the tests find real MNIST and scratch folders.
module Mnist.Tests.TestData

open System
open System.IO

/// The real MNIST folder (found as TestProgram says).
let mnistDir = Mnist.TestProgram.mnistDir

/// A fresh temporary folder that is deleted when disposed.
type TempDir() =
    let path = Path.Combine(Path.GetTempPath(), "mnist-tests-" + Guid.NewGuid().ToString("N"))
    do Directory.CreateDirectory path |> ignore
    member _.Path = path
    interface IDisposable with
        member _.Dispose() = try Directory.Delete(path, true) with _ -> ()

/// The Expecto group of the tests that change the kernels' global settings (thread count, GEMM
/// tile, parallel threshold) and of those that count one thread's allocations in a steady state:
/// they run one at a time. Under another test's thread count a GEMM splits differently and a
/// thread's packing buffer may grow in the middle of the count (5,072 bytes seen once).
let kernelSettings = "kernel settings"

/// Runs f, expecting it to throw 'E; returns the exception so the test can read its message.
let throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failwithf "expected %s, nothing was thrown" typeof<'E>.Name
    with
    | :? 'E as e -> e
