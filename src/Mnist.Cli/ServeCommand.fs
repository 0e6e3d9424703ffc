/// `mnist serve`: the draw-a-digit page, the prediction API and the runs dashboard (Mnist.Web).
module Mnist.Cli.ServeCommand

open System
open Argu
open Mnist.Experiments
open Mnist.Web
open Mnist.Cli.Common

type ServeArgs =
    | Model of path: string
    | Port of port: int
    | Host of address: string
    | Results of folder: string
    | Registry of url: string
    | Data_Dir of path: string
    | Predictors of count: int
    | Prediction_Queue of count: int
    | Refusal_Pause of milliseconds: int
    | Device of device: string
    | Admin_Token of token: string
    | Log_Level of level: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "model file to serve (default: the registry's best run, else the classic network, trained for one epoch first if need be)"
            | Port _ -> "port (default 5000; 0 picks a free one). Without --host and --port, ASPNETCORE_URLS is honoured"
            | Host _ -> "address to listen on: localhost (default, this machine only), * for every interface, or an IP address; beyond localhost, writes need the admin token"
            | Results _ -> "results folder: registry, reports, default models (default results)"
            | Registry _ ->
                "the registry the dashboard lists and trains into: postgres://user[:password]@host[:port]/database, or an SQLite file (default: MNIST_REGISTRY, else <results>/runs.db)"
            | Data_Dir _ -> "MNIST folder for training from the dashboard (default: MNIST_DATA, else the cache)"
            | Predictors _ -> "predictions computed at once, each with its own network copy (default: one per two cores)"
            | Prediction_Queue _ ->
                $"prediction requests that may wait for a predictor; beyond them the answer is 503 with Retry-After (default {Overload.QueuePerPredictor} per predictor)"
            | Refusal_Pause _ ->
                $"milliseconds a refused prediction request is held before its 503, so clients that ignore Retry-After cannot flood the cores with retries (default {Overload.RefusalPauseMs}; 0 answers at once)"
            | Device _ -> deviceUsage + "; predictions and dashboard training run there"
            | Admin_Token _ -> "token that starting/cancelling training and switching the model need (default: made and printed at start when listening beyond localhost)"
            | Log_Level _ -> "least severe log messages shown: trace, debug, information (every request), warning (default), error, critical, none"

/// A count option that may be 0 but not negative.
let private notNegative (flag: string) (value: int) =
    if value < 0 then raise (Mnist.Core.MnistException $"--{flag} must be 0 or more, got {value}") else value

let run (args: ParseResults<ServeArgs>) =
    let defaults = ServeOptions()
    let results = args.GetResult(Results, defaults.ResultsDir)
    // A registry named but unusable (bad URL, server down, wrong password, another schema
    // version) stops the start with one line; a results folder's own runs.db is created.
    let registry = args.TryGetResult Registry
    if registry.IsSome || not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable RegistryLocation.Variable)) then
        Registry.Open(RegistryLocation.Resolve(Option.toObj registry, results), results) |> ignore
    let options =
        ServeOptions(
            ModelPath = Option.toObj (args.TryGetResult Model),
            Port = Option.toNullable (args.TryGetResult Port),
            Host = Option.toObj (args.TryGetResult Host),
            AdminToken = Option.toObj (args.TryGetResult Admin_Token),
            LogLevel = Option.toNullable (args.TryGetResult Log_Level |> Option.map ServeOptions.ParseLogLevel),
            ResultsDir = results,
            Registry = Option.toObj registry,
            DataDir = Option.toObj (args.TryGetResult Data_Dir),
            Predictors = args.GetResult(Predictors, defaults.Predictors),
            PredictionQueue = Option.toNullable (args.TryGetResult Prediction_Queue |> Option.map (notNegative "prediction-queue")),
            RefusalPauseMs =
                (args.TryGetResult Refusal_Pause |> Option.map (notNegative "refusal-pause") |> Option.defaultValue defaults.RefusalPauseMs),
            Device = args.GetResult(Device, defaults.Device),
            Log = (fun line -> printfn "%s" line))
    WebServer.Run options
    0
