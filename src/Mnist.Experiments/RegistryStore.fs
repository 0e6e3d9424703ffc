namespace Mnist.Experiments

open System
open System.Data.Common
open System.IO
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open Microsoft.Data.Sqlite
open Npgsql
open Mnist.Core

/// What differs between the two registry stores: how to connect (and explain a failure to),
/// how concurrent schema creation is serialised, and how runs are locked. Everything else, the
/// SQL included, is shared (Registry.fs, RegistrySql.fs).
[<AbstractClass>]
type RegistryStore(location: RegistryLocation) =
    member _.Location = location

    /// An open connection; a failure to connect is a MnistException that says why in one line.
    abstract Connect: unit -> DbConnection

    /// Called first in the schema transaction, so two processes never create the tables at once.
    abstract LockSchema: DbConnection * DbTransaction -> unit

    abstract Locks: IRunLocks

    static member For(location: RegistryLocation, results: string) : RegistryStore =
        match location with
        | RegistryLocation.Sqlite path -> SqliteStore(location, path, results)
        | RegistryLocation.Postgres(connectionString, _) -> PostgresStore(location, connectionString)

/// One SQLite file, shared by the threads and processes of one machine (SQLite serialises
/// writers; a busy file is retried for up to a minute). Runs are locked with lock files in the
/// results folder.
and SqliteStore(location, path: string, results: string) =
    inherit RegistryStore(location)
    let locks = FileRunLocks(results)

    override _.Connect() =
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        let connection = new SqliteConnection($"Data Source={path};Pooling=False;Default Timeout=60")
        try
            connection.Open()
            use pragma = connection.CreateCommand()
            pragma.CommandText <- "PRAGMA foreign_keys = ON;"
            pragma.ExecuteNonQuery() |> ignore
            connection :> DbConnection
        with :? SqliteException as e ->
            connection.Dispose()
            raise (MnistException($"{path} is not a results registry: {e.Message}", e))

    override _.LockSchema(_, _) = () // SQLite's own write lock serialises it

    override _.Locks = locks

/// A PostgreSQL database that workers on many machines share (their run folders sit in one
/// results folder on shared storage). Runs are locked with session advisory locks, which the
/// server releases when the holder's connection ends, whether it closed or its process died.
and PostgresStore(location, connectionString: string) =
    inherit RegistryStore(location)

    /// Keys of our advisory locks carry "MN" in their top 16 bits, apart from other users'.
    static let tag = 0x4D4EL <<< 48

    /// A run's lock key: its 12 hex digits (48 bits) under the tag.
    static let runKey (id: string) =
        let bits =
            match Int64.TryParse(id, Globalization.NumberStyles.HexNumber, null) with
            | true, v when id.Length = 12 -> v
            | _ -> BitConverter.ToInt64(Array.append (SHA256.HashData(Encoding.UTF8.GetBytes id)[..5]) [| 0uy; 0uy |], 0)
        tag ||| bits

    /// The schema's lock key: the tag alone (no run id is twelve zeros).
    static let schemaKey = tag

    let display = location.ToString()

    /// One line for a failure to connect: unreachable, login refused, no such database.
    let explain (e: exn) =
        let rec socket (e: exn) =
            match e with
            | null -> None
            | :? SocketException as s -> Some s.Message
            | :? TimeoutException -> Some "no answer in time"
            | e -> socket e.InnerException
        match e with
        | :? PostgresException as p when p.SqlState = "28P01" || p.SqlState = "28000" ->
            $"the registry {display} refused the login: {p.MessageText}"
        | :? PostgresException as p when p.SqlState = "3D000" -> $"the registry {display} does not exist: {p.MessageText}"
        | :? PostgresException as p -> $"the registry {display}: {p.MessageText}"
        | e ->
            match socket e with
            | Some why -> $"cannot reach the registry {display}: {why}"
            | None -> $"cannot use the registry {display}: {e.Message}"

    let connect (builder: string) =
        let connection = new NpgsqlConnection(builder)
        try
            connection.Open()
            connection
        with
        | :? NpgsqlException
        | :? TimeoutException
        | :? ArgumentException as e ->
            connection.Dispose()
            raise (MnistException(explain e, e))

    let scalar (connection: NpgsqlConnection) (sql: string) (parameters: (string * obj) list) =
        use cmd = new NpgsqlCommand(sql, connection)
        for name, value in parameters do cmd.Parameters.AddWithValue(name, value) |> ignore
        cmd.ExecuteScalar()

    /// Advisory locks are held by a connection of their own, never a pooled one.
    let lockConnectionString = NpgsqlConnectionStringBuilder(connectionString, Pooling = false).ConnectionString

    let locks =
        { new IRunLocks with
            member _.TryAcquire id =
                let connection = connect lockConnectionString
                let key = runKey id
                if scalar connection "SELECT pg_try_advisory_lock(@key)" [ "key", box key ] :?> bool then
                    Some
                        { new RunLock() with
                            member _.Release _ =
                                (try scalar connection "SELECT pg_advisory_unlock(@key)" [ "key", box key ] |> ignore with _ -> ())
                                connection.Dispose() }
                else
                    connection.Dispose()
                    None

            member _.IsHeld id =
                use connection = connect connectionString
                let key = runKey id
                // A bigint key shows in pg_locks as its high and low 32 bits, objsubid 1.
                scalar connection
                    """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
                           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                           AND classid::bigint = @high AND objid::bigint = @low)"""
                    [ "high", box (key >>> 32); "low", box (key &&& 0xFFFFFFFFL) ]
                :?> bool }

    override _.Connect() = connect connectionString :> DbConnection

    override _.LockSchema(connection, transaction) =
        use cmd = connection.CreateCommand()
        cmd.Transaction <- transaction
        cmd.CommandText <- $"SELECT pg_advisory_xact_lock({schemaKey})"
        cmd.ExecuteScalar() |> ignore

    override _.Locks = locks
