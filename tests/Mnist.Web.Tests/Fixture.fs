/// What the web tests share: real MNIST, one trained model per run, scratch folders, and servers.
module Mnist.Web.Tests.Fixture

open System
open System.IO
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.Mvc.Testing
open Mnist.Core.Data
open Mnist.Core.Inference
open Mnist.Core.IO
open Mnist.Web

/// The real MNIST folder (found as TestProgram says).
let mnistDir = Mnist.TestProgram.mnistDir

let private requireMnist () =
    if mnistDir = "" || not (Directory.Exists mnistDir) then
        failwith "MNIST not found: run `dotnet fsi build.fsx -t Data` (fills the per-user cache) or set MNIST_DATA"

/// Everything the tests write lives here; Main deletes it at the end.
let scratchRoot = Path.Combine(Path.GetTempPath(), "mnist-web-tests-" + Guid.NewGuid().ToString("N"))

/// A fresh folder under the scratch root.
let scratch (name: string) =
    let dir = Path.Combine(scratchRoot, name + "-" + Guid.NewGuid().ToString("N")[..7])
    Directory.CreateDirectory dir |> ignore
    dir

let private log (line: string) = eprintfn "  [fixture] %s" line

/// What the default-model step said while it made the test model.
let defaultModelLog = ResizeArray<string>()

/// The results folder the test model was made in (None when MNIST_WEB_TEST_MODEL named one).
let mutable defaultModelResults: string option = None

/// The model every test uses: what `mnist serve` does on a fresh clone — nothing named, nothing
/// in results/, so the classic network is trained for one epoch on the real MNIST (about 98.9%
/// on the test set) — once per run. MNIST_WEB_TEST_MODEL names a ready model file instead.
let modelPath =
    lazy
        (match Environment.GetEnvironmentVariable "MNIST_WEB_TEST_MODEL" with
         | path when not (String.IsNullOrEmpty path) && File.Exists path -> path
         | _ ->
             requireMnist ()
             let results = scratch "fresh-clone"
             defaultModelResults <- Some results
             let say line =
                 lock defaultModelLog (fun () -> defaultModelLog.Add line)
                 log line
             DefaultModel.Resolve(ServeOptions(ResultsDir = results, DataDir = mnistDir, Log = say)))

let testSet = lazy (requireMnist (); (MnistDataset.Load mnistDir).Test)

/// The test image as grey levels in [0,1], ink 1.
let testPixels (index: int) = testSet.Value.Image(index).ToArray() |> Array.map (fun b -> float32 b / 255.0f)

/// A predictor of this thread's own for the test model (what a request should agree with).
let localPredictor () = Predictor(ModelFile.Load modelPath.Value)

/// The app through WebApplicationFactory (an in-memory test server), with these settings.
let factory (settings: (string * string) list) =
    let f = new WebApplicationFactory<Program>()
    f.WithWebHostBuilder(fun builder ->
        // The app needs no files of its own (its page is embedded); the factory would look for
        // its project folder relative to the working directory, which build.fsx does not set.
        builder.UseContentRoot AppContext.BaseDirectory |> ignore
        builder.UseEnvironment "Production" |> ignore
        for key, value in settings do builder.UseSetting(key, value) |> ignore)

/// The shared API server: the test model, an empty results folder.
let api =
    lazy
        // Tests share this server and run side by side: a queue long enough that none is refused
        // (the default refuses beyond three requests per predictor; the overload tests check that).
        (let f = factory [ "model", modelPath.Value; "results", scratch "results"; "data", mnistDir; "prediction-queue", "64" ]
         f, f.CreateClient())
