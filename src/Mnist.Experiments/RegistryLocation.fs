namespace Mnist.Experiments

open System
open System.IO
open System.Text.RegularExpressions
open Npgsql
open Mnist.Core

/// Where the results registry lives: an SQLite file (results/runs.db unless another is named),
/// or a PostgreSQL database a team shares, named by a URL
/// postgres://user[:password]@host[:port]/database[?option=value...]. Without a password in the
/// URL, Npgsql takes it from PGPASSWORD or ~/.pgpass, as libpq does.
[<RequireQualifiedAccess>]
type RegistryLocation =
    | Sqlite of path: string
    | Postgres of connectionString: string * display: string

    /// For messages: the file, or the URL without its password.
    member l.Display =
        match l with
        | Sqlite path -> path
        | Postgres(_, display) -> display

    override l.ToString() = l.Display

    /// An SQLite registry whose file does not exist yet (a fresh results folder).
    member l.IsMissingFile =
        match l with
        | Sqlite path -> not (File.Exists path)
        | Postgres _ -> false

    /// The environment variable that names the registry when --registry does not.
    static member Variable = "MNIST_REGISTRY"

    /// The registry file of a results folder.
    static member InResults(results: string) = Sqlite(Path.GetFullPath(Layout.database results))

    /// A registry URL or path: postgres:// (or postgresql://) uses PostgreSQL, a path an SQLite
    /// file (a folder: its runs.db). Any other scheme is refused, so a typo never becomes a file.
    static member Parse(text: string) =
        let text = if isNull text then "" else text.Trim()
        let scheme = Regex.Match(text, @"^([A-Za-z][A-Za-z0-9+.-]*)://")
        // Never echo a password back.
        let shown = Regex.Replace(text, @"^([^:/]+://[^:@/]*):[^@/]*@", "$1:***@")
        if text = "" then raise (MnistException "--registry is empty: give postgres://user@host/database or an SQLite file")
        elif not scheme.Success then
            Sqlite(Path.GetFullPath(if Directory.Exists text then Layout.database text else text))
        else
            match scheme.Groups[1].Value.ToLowerInvariant() with
            | "postgres"
            | "postgresql" -> RegistryLocation.PostgresUrl(text, shown)
            | other ->
                raise (MnistException $"registry '{shown}': unknown scheme '{other}' (use postgres://user@host/database, or a path to an SQLite file)")

    static member private PostgresUrl(text: string, shown: string) =
        let fail (why: string) =
            raise (MnistException $"registry URL '{shown}' {why} (expected postgres://user[:password]@host[:port]/database)")
        let uri =
            match Uri.TryCreate(text, UriKind.Absolute) with
            | true, uri -> uri
            | _ -> fail "is not a valid URL"
        if String.IsNullOrEmpty uri.Host then fail "names no host"
        let database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart '/')
        if database = "" || database.Contains '/' then fail "names no database"
        let builder = NpgsqlConnectionStringBuilder(Host = uri.Host.Trim('[', ']'), Database = database, ApplicationName = "mnist")
        builder.Port <- if uri.IsDefaultPort || uri.Port < 0 then 5432 else uri.Port
        // A server that cannot be reached is reported in seconds, not after a long hang.
        builder.Timeout <- 10
        let user, password =
            match uri.UserInfo.Split(':', 2) with
            | [| "" |] -> None, None
            | [| user |] -> Some(Uri.UnescapeDataString user), None
            | parts -> Some(Uri.UnescapeDataString parts[0]), Some(Uri.UnescapeDataString parts[1])
        user |> Option.iter (fun u -> builder.Username <- u)
        password |> Option.iter (fun p -> builder.Password <- p)
        for pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries) do
            match pair.Split('=', 2) with
            | [| key; value |] ->
                try builder[Uri.UnescapeDataString key] <- Uri.UnescapeDataString value
                with :? ArgumentException -> fail $"has an option Npgsql does not know: '{Uri.UnescapeDataString key}'"
            | _ -> fail $"has an option without a value: '{pair}'"
        let userPart = user |> Option.map (fun u -> Uri.EscapeDataString u + "@") |> Option.defaultValue ""
        let host = if uri.HostNameType = UriHostNameType.IPv6 then $"[{builder.Host}]" else builder.Host
        Postgres(builder.ConnectionString, $"postgres://{userPart}{host}:{builder.Port}/{database}")

    /// The --registry option when given, else MNIST_REGISTRY, else the results folder's runs.db.
    /// (For C#: null means not given.)
    static member Resolve(given: string, results: string) =
        match given with
        | null
        | "" ->
            match Environment.GetEnvironmentVariable RegistryLocation.Variable with
            | null
            | "" -> RegistryLocation.InResults results
            | url -> RegistryLocation.Parse url
        | url -> RegistryLocation.Parse url
