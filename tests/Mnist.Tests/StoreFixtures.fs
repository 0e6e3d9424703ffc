/// The two registry stores the registry and runner tests run against: the results folder's
/// SQLite file, and a fresh database on the test PostgreSQL server (skipped, with the reason,
/// where PostgreSQL is not installed).
module Mnist.Tests.StoreFixtures

open System.Data.Common
open Microsoft.Data.Sqlite
open Npgsql
open Mnist.Experiments

type Store =
    { Name: string
      /// A new, empty registry for a results folder.
      Fresh: string -> RegistryLocation }

let sqlite = { Name = "SQLite"; Fresh = RegistryLocation.InResults }

let postgres = { Name = "PostgreSQL"; Fresh = fun _ -> RegistryLocation.Parse((Mnist.TestPostgres.require ()).NewDatabase()) }

let stores = [ sqlite; postgres ]

/// Runner options that train into a results folder with this registry.
let withRegistry (location: RegistryLocation) (options: RunnerOptions) = { options with Registry = Some location }

/// Runs SQL on a registry behind its back (to sabotage it, or to forge another version).
let execute (location: RegistryLocation) (sql: string) =
    use connection: DbConnection =
        match location with
        | RegistryLocation.Sqlite path -> new SqliteConnection($"Data Source={path};Pooling=False")
        | RegistryLocation.Postgres(connectionString, _) -> new NpgsqlConnection(connectionString)
    connection.Open()
    use cmd = connection.CreateCommand()
    cmd.CommandText <- sql
    cmd.ExecuteNonQuery() |> ignore
