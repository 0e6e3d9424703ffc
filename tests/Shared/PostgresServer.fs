/// A real PostgreSQL server for the tests, never a mock: Debian's postgresql package, a fresh
/// cluster made by initdb in a temporary folder, started by pg_ctl on a free loopback port with
/// password logins, stopped (and its folder deleted) when the tests end, failed or not. Where the
/// package is missing, the tests that need it are skipped with the reason. (Linked into both
/// test programs.)
module Mnist.TestPostgres

open System
open System.IO
open Expecto
open Npgsql
open Mnist.TestProcesses

type Server =
    { Folder: string
      Bin: string
      Port: int
      User: string
      Password: string
      /// Runs a server program as the account that owns the cluster.
      AsOwner: string -> string list -> string list }

    /// postgres://user:password@127.0.0.1:port/database
    member s.Url(database: string) = $"postgres://{s.User}:{s.Password}@127.0.0.1:{s.Port}/{database}"

    /// A new, empty database on the server, as a registry URL: each test gets its own.
    member s.NewDatabase() =
        let name = "t" + Guid.NewGuid().ToString("N")[..11]
        use connection = new NpgsqlConnection($"Host=127.0.0.1;Port={s.Port};Username={s.User};Password={s.Password};Database=postgres;Pooling=false")
        connection.Open()
        use cmd = new NpgsqlCommand($"CREATE DATABASE {name}", connection)
        cmd.ExecuteNonQuery() |> ignore
        s.Url name

/// The newest installed PostgreSQL's programs (Debian keeps them out of PATH).
let private findBin () =
    let debian =
        if Directory.Exists "/usr/lib/postgresql" then
            Directory.GetDirectories "/usr/lib/postgresql"
            |> Array.map (fun d -> Path.Combine(d, "bin"))
            |> Array.filter (fun d -> File.Exists(Path.Combine(d, "initdb")))
            |> Array.sortByDescending (fun d -> match Int32.TryParse(Path.GetFileName(Path.GetDirectoryName d)) with | true, v -> v | _ -> 0)
            |> Array.tryHead
        else None
    let onPath () =
        (Environment.GetEnvironmentVariable "PATH").Split(':', StringSplitOptions.RemoveEmptyEntries)
        |> Array.tryFind (fun d -> File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
    debian |> Option.orElseWith onPath

let private isRoot () = Environment.UserName = "root"

let private check (what: string) (code: int, output: string) =
    if code <> 0 then failwith $"{what} failed ({code}):\n{output}"

let private start () : Result<Server, string> =
    match findBin () with
    | None -> Error "PostgreSQL is not installed (Debian's postgresql package; .ci/run installs it)"
    | Some bin ->
        // initdb refuses to run as root: then the cluster belongs to the package's postgres account.
        let owner = if isRoot () then Some "postgres" else None
        match owner with
        | Some account when (fst (run "id" [ "-u"; account ] (TimeSpan.FromSeconds 10.0))) <> 0 ->
            Error $"running as root and there is no '{account}' account to own the test cluster"
        | _ ->
            let folder = Path.Combine(Path.GetTempPath(), "mnist-pg-" + Guid.NewGuid().ToString("N")[..11])
            Directory.CreateDirectory folder |> ignore
            let asOwner (program: string) (args: string list) =
                match owner with
                | Some account -> "runuser" :: "-u" :: account :: "--" :: program :: args
                | None -> program :: args
            let exec what (command: string list) = check what (run (List.head command) (List.tail command) (TimeSpan.FromMinutes 2.0))
            let password = Guid.NewGuid().ToString("N")
            File.WriteAllText(Path.Combine(folder, "pwfile"), password)
            owner |> Option.iter (fun account -> exec "chown" [ "chown"; "-R"; account; folder ])
            let data = Path.Combine(folder, "data")
            let pwfile = Path.Combine(folder, "pwfile")
            exec "initdb" (asOwner (Path.Combine(bin, "initdb")) [ "-D"; data; "-U"; "mnist"; "--auth=scram-sha-256"; $"--pwfile={pwfile}"; "-E"; "UTF8"; "--no-locale" ])
            let port = freeLoopbackPort ()
            let options = $"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            exec "pg_ctl start" (asOwner (Path.Combine(bin, "pg_ctl")) [ "-D"; data; "-l"; Path.Combine(folder, "server.log"); "-w"; "-t"; "60"; "-o"; options; "start" ])
            Ok { Folder = folder; Bin = bin; Port = port; User = "mnist"; Password = password; AsOwner = asOwner }

let private server =
    lazy
        (try start ()
         with e -> Error $"could not start PostgreSQL: {e.Message}")

let mutable private stopped = false

/// Stops the server if it was started, and deletes its folder (called when the tests end).
let stop () =
    if server.IsValueCreated && not stopped then
        stopped <- true
        match server.Value with
        | Ok s ->
            let stopCommand = s.AsOwner (Path.Combine(s.Bin, "pg_ctl")) [ "-D"; Path.Combine(s.Folder, "data"); "-m"; "immediate"; "-w"; "stop" ]
            (try run (List.head stopCommand) (List.tail stopCommand) (TimeSpan.FromMinutes 1.0) |> ignore with _ -> ())
            (try Directory.Delete(s.Folder, true) with _ -> ())
        | Error _ -> ()

do AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> stop ())

/// The running server, or the test is skipped with the reason.
let require () =
    match server.Value with
    | Ok s -> s
    | Error why -> skiptest why
