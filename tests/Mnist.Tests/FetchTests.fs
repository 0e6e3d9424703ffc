module Mnist.Tests.FetchTests

open System
open System.IO
open System.IO.Compression
open System.Net
open System.Net.Sockets
open System.Text
open System.Threading
open Expecto
open Mnist.Core
open Mnist.Core.Data
open Mnist.Tests.TestData

/// How the loopback server answers a request for a file.
type Reply =
    | Serve of byte[]
    /// Announces the full length, sends half, then closes the connection.
    | DropHalfway of byte[]
    | NotFound

/// A minimal HTTP/1.1 server on 127.0.0.1 that the test controls file by file.
type LoopbackServer(route: string -> Reply) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    do listener.Start()
    let stop = new CancellationTokenSource()
    let respond (client: TcpClient) =
        use client = client
        use stream = client.GetStream()
        use reader = new StreamReader(stream, Encoding.ASCII, false, 1024, true)
        let requestLine = reader.ReadLine()
        while not (String.IsNullOrEmpty(reader.ReadLine())) do ()
        let path = requestLine.Split(' ').[1]
        let head (status: string) (length: int) =
            let text = $"HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            stream.Write(Encoding.ASCII.GetBytes text)
        match route (path.TrimStart '/') with
        | Serve body -> head "200 OK" body.Length; stream.Write body
        | DropHalfway body ->
            head "200 OK" body.Length
            stream.Write(body, 0, body.Length / 2)
            stream.Flush()
            client.Client.LingerState <- LingerOption(true, 0) // reset, not a clean close
        | NotFound -> head "404 Not Found" 0
    let loop =
        Tasks.Task.Run(fun () ->
            try
                while not stop.IsCancellationRequested do
                    let client = listener.AcceptTcpClient()
                    Tasks.Task.Run(fun () -> try respond client with _ -> ()) |> ignore
            with _ -> ())
    member _.Url = $"http://127.0.0.1:{(listener.LocalEndpoint :?> IPEndPoint).Port}/"
    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Stop()

/// The real file's decompressed bytes, from wherever it lies (raw in the cache, .gz elsewhere).
let private realBytes name = IdxFile.ReadBytes(MnistFiles.Find(mnistDir, name))

let private gzip (bytes: byte[]) =
    use buffer = new MemoryStream()
    (use z = new GZipStream(buffer, CompressionLevel.Fastest) in z.Write(bytes, 0, bytes.Length))
    buffer.ToArray()

/// The real file as a mirror serves it (gzip), made once per file.
let private realGz =
    let made = Collections.Concurrent.ConcurrentDictionary<string, byte[]>()
    fun name -> made.GetOrAdd(name, fun n -> gzip (realBytes n))

/// The real file with one payload byte changed, recompressed: structurally fine, wrong digest.
let private corrupted name =
    let bytes = realBytes name
    bytes[bytes.Length - 1] <- bytes[bytes.Length - 1] ^^^ 1uy
    gzip bytes

let private options (cache: string) mirrors (log: ResizeArray<string>) =
    DataOptions(
        CacheDir = cache,
        Mirrors = ResizeArray<string>(mirrors: string list),
        UseNpm = false,
        Log = (fun line -> lock log (fun () -> log.Add line)))

let private leftovers (cache: string) =
    if Directory.Exists cache then Directory.GetFiles(cache, "*.part") else [||]

let private requireData () =
    if mnistDir = "" then skiptest "real MNIST not found (run `dotnet fsi build.fsx -t Data` or set MNIST_DATA)"

[<Tests>]
let tests =
    testSequencedGroup "loopback server" <| testList "Fetch" [
        test "good files are downloaded, verified and cached" {
            requireData ()
            use server = new LoopbackServer(fun file -> Serve(realGz (file.Replace(".gz", ""))))
            use cache = new TempDir()
            let log = ResizeArray()
            let dir = MnistSource.Resolve(options cache.Path [ server.Url ] log)
            for name in MnistFiles.All do
                Expect.isTrue (MnistFiles.IsCanonical(Path.Combine(dir, name + ".gz"), name)) name
            Expect.isEmpty (leftovers cache.Path) "no temporary files"
            let data = MnistDataset.Load dir
            Expect.equal data.Train.Count 60000 "train count"
        }

        test "a corrupt file is refused and never cached" {
            requireData ()
            let route (file: string) =
                let name = file.Replace(".gz", "")
                if name = MnistFiles.TrainLabels then Serve(corrupted name) else Serve(realGz name)
            use server = new LoopbackServer(route)
            use cache = new TempDir()
            let log = ResizeArray()
            let e = throws<MnistException> (fun () -> MnistSource.Resolve(options cache.Path [ server.Url ] log) |> ignore)
            Expect.stringContains e.Message MnistFiles.TrainLabels "names the missing file"
            Expect.isNull (MnistFiles.Find(cache.Path, MnistFiles.TrainLabels)) "not cached"
            Expect.isEmpty (leftovers cache.Path) "no temporary files"
            Expect.exists log (fun l -> l.Contains "refused train-labels") "the log says it was refused"
        }

        test "a connection dropped mid-file leaves nothing; the next mirror is used" {
            requireData ()
            use broken = new LoopbackServer(fun file -> DropHalfway(realGz (file.Replace(".gz", ""))))
            use missing = new LoopbackServer(fun _ -> NotFound)
            use good = new LoopbackServer(fun file -> Serve(realGz (file.Replace(".gz", ""))))
            use cache = new TempDir()
            let log = ResizeArray()
            let badOnly = options cache.Path [ broken.Url; missing.Url ] log
            throws<MnistException> (fun () -> MnistSource.Resolve badOnly |> ignore) |> ignore
            Expect.isEmpty (Directory.GetFiles cache.Path |> Array.filter (fun f -> not (f.EndsWith ".verified"))) "nothing half-written"
            Expect.exists log (fun l -> l.StartsWith "  failed" && l.Contains broken.Url) "the drop is reported"
            Expect.exists log (fun l -> l.Contains "404") "the 404 is reported"
            let dir = MnistSource.Resolve(options cache.Path [ broken.Url; good.Url ] log)
            Expect.equal (MnistDataset.Load dir).Test.Count 10000 "loaded after fallback"
            Expect.isEmpty (leftovers cache.Path) "no temporary files"
        }

        test "a cached file changed on disk is checked again and replaced" {
            requireData ()
            use server = new LoopbackServer(fun file -> Serve(realGz (file.Replace(".gz", ""))))
            use cache = new TempDir()
            let log = ResizeArray()
            let opts = options cache.Path [ server.Url ] log
            MnistSource.EnsureCache opts
            let labels = Path.Combine(cache.Path, MnistFiles.TestLabels + ".gz")
            File.WriteAllBytes(labels, corrupted MnistFiles.TestLabels)
            log.Clear()
            MnistSource.EnsureCache opts
            Expect.isTrue (MnistFiles.IsCanonical(labels, MnistFiles.TestLabels)) "replaced by a good copy"
            Expect.exists log (fun l -> l.Contains "downloading" && l.Contains MnistFiles.TestLabels) "downloaded again"
        }
    ]
