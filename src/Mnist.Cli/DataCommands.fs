/// `mnist data fetch` and `mnist data verify`.
module Mnist.Cli.DataCommands

open System.IO
open Argu
open Mnist.Core.Data

/// Both data commands take only the folder.
type DataDirArgs =
    | Data_Dir of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data_Dir _ -> "use this folder (default: MNIST_DATA, else the per-user cache, filled when needed)"

type DataArgs =
    | [<CliPrefix(CliPrefix.None)>] Fetch of ParseResults<DataDirArgs>
    | [<CliPrefix(CliPrefix.None)>] Verify of ParseResults<DataDirArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Fetch _ -> "make sure MNIST is available (download into the cache when needed)"
            | Verify _ -> "check the four files' structure and SHA-256 digests"

let private options dataDir = DataOptions.FromEnvironment(dataDir, fun line -> eprintfn "%s" line)

let private resolve (args: ParseResults<DataDirArgs>) =
    MnistSource.Resolve(options (args.TryGetResult Data_Dir |> Option.toObj))

let fetch args =
    let dir = resolve args
    let data = MnistDataset.Load dir
    printfn "MNIST ready in %s: %d training and %d test images" dir data.Train.Count data.Test.Count
    0

let verify args =
    let dir = resolve args
    let data = MnistDataset.Load dir
    let describe name (count: int) what =
        let path = MnistFiles.Find(dir, name)
        let canonical = MnistFiles.IsCanonical(path, name)
        printfn "%-30s %6d %-14s %s" (Path.GetFileName path) count what (if canonical then "sha256 ok" else "sha256 differs from MNIST")
        canonical
    let shape (split: MnistSplit) = $"images {split.Height}x{split.Width}"
    let results =
        [ describe MnistFiles.TrainImages data.Train.Count (shape data.Train)
          describe MnistFiles.TrainLabels data.Train.Count "labels"
          describe MnistFiles.TestImages data.Test.Count (shape data.Test)
          describe MnistFiles.TestLabels data.Test.Count "labels" ]
    if List.forall id results then
        printfn "verified: the four files are the canonical MNIST (%d train, %d test) in %s" data.Train.Count data.Test.Count dir
    else
        printfn "structure ok, but these are not the canonical MNIST files: a custom data set in %s" dir
    0

let run (args: ParseResults<DataArgs>) =
    match args.GetSubCommand() with
    | Fetch a -> fetch a
    | Verify a -> verify a
