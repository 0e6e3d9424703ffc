/// plotly.js, taken from the Plotly.NET assembly (which embeds it) and written once per results
/// folder: every report page links it by a relative path, so pages stay small and open offline.
module Mnist.Experiments.Reports.PlotlyAsset

open System
open System.IO
open Plotly.NET

[<Literal>]
let FileName = "plotly.min.js"

let private assembly = typeof<GenericChart>.Assembly

let private resourceName =
    lazy
        (assembly.GetManifestResourceNames()
         |> Array.tryFind (fun n -> n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
         |> Option.defaultWith (fun () -> failwith "the Plotly.NET assembly carries no plotly.js resource"))

/// The embedded plotly.js version ("2.28.0").
let version () = resourceName.Value.Substring("Plotly.NET.plotly-".Length).Replace(".min.js", "")

let private readResource (name: string) =
    use stream = assembly.GetManifestResourceStream name
    use memory = new MemoryStream()
    stream.CopyTo memory
    memory.ToArray()

/// Writes results/plotly.min.js (and its licence) unless an identical copy is there; returns its path.
let ensure (results: string) =
    let path = Path.Combine(results, FileName)
    let bytes = lazy (readResource resourceName.Value)
    if not (File.Exists path) || FileInfo(path).Length <> int64 bytes.Value.Length then
        Mnist.Experiments.Files.writeAllBytesAtomic path (ReadOnlySpan bytes.Value)
        let license = resourceName.Value + ".LICENSE.txt"
        if assembly.GetManifestResourceNames() |> Array.contains license then
            Mnist.Experiments.Files.writeAllBytesAtomic (path + ".LICENSE.txt") (ReadOnlySpan(readResource license))
    path

/// The script's address as seen from a page in <paramref name="pageDir"/>.
let relativeFrom (results: string) (pageDir: string) = Mnist.Experiments.Files.relative pageDir (Path.Combine(results, FileName))
