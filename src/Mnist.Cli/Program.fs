module Mnist.Cli.Program

open System
open Argu
open Mnist.Core
open Mnist.Cli.DataCommands

type MnistArgs =
    | [<CliPrefix(CliPrefix.None)>] Data of ParseResults<DataArgs>
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "fetch or verify the MNIST files"

let private dispatch (args: ParseResults<MnistArgs>) =
    match args.GetSubCommand() with
    | Data a -> DataCommands.run a

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<MnistArgs>(programName = "mnist")
    try
        dispatch (parser.ParseCommandLine(argv, raiseOnUsage = true))
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e ->
        eprintfn "%s" e.Message
        2
    | :? MnistException as e ->
        eprintfn "error: %s" e.Message
        1
