/// `mnist serve`: the draw-a-digit page, the prediction API and the runs dashboard (Mnist.Web).
module Mnist.Cli.ServeCommand

open Argu
open Mnist.Web

type ServeArgs =
    | Model of path: string
    | Port of port: int
    | Host of address: string
    | Results of folder: string
    | Data_Dir of path: string
    | Predictors of count: int
    | Admin_Token of token: string
    | Log_Level of level: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model file to serve (default: the registry's best run, else the classic network, trained for one epoch first if need be)"
            | Port _ -> "port (default 5000; 0 picks a free one). Without --host and --port, ASPNETCORE_URLS is honoured"
            | Host _ -> "address to listen on: localhost (default, this machine only), * for every interface, or an IP address; beyond localhost, writes need the admin token"
            | Results _ -> "results folder: registry, reports, default models (default results)"
            | Data_Dir _ -> "MNIST folder for training from the dashboard (default: MNIST_DATA, else the cache)"
            | Predictors _ -> "predictions computed at once, each with its own network copy (default: one per core)"
            | Admin_Token _ -> "token that starting/cancelling training and switching the model need (default: made and printed at start when listening beyond localhost)"
            | Log_Level _ -> "least severe log messages shown: trace, debug, information (every request), warning (default), error, critical, none"

let run (args: ParseResults<ServeArgs>) =
    let defaults = ServeOptions()
    let options =
        ServeOptions(
            ModelPath = Option.toObj (args.TryGetResult Model),
            Port = Option.toNullable (args.TryGetResult Port),
            Host = Option.toObj (args.TryGetResult Host),
            AdminToken = Option.toObj (args.TryGetResult Admin_Token),
            LogLevel = Option.toNullable (args.TryGetResult Log_Level |> Option.map ServeOptions.ParseLogLevel),
            ResultsDir = args.GetResult(Results, defaults.ResultsDir),
            DataDir = Option.toObj (args.TryGetResult Data_Dir),
            Predictors = args.GetResult(Predictors, defaults.Predictors),
            Log = (fun line -> printfn "%s" line))
    WebServer.Run options
    0
