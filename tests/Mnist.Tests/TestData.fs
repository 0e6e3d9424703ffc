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

/// Runs f, expecting it to throw 'E; returns the exception so the test can read its message.
let throws<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failwithf "expected %s, nothing was thrown" typeof<'E>.Name
    with
    | :? 'E as e -> e
