/// Small file-system helpers whose one job is to never leave a half-written file behind.
module Mnist.Experiments.Files

open System
open System.IO
open System.Text

/// A temporary name beside the target, so the final rename stays on one file system (atomic).
let private tempBeside (path: string) =
    Path.Combine(Path.GetDirectoryName(Path.GetFullPath path), $".{Path.GetFileName path}.{Guid.NewGuid():N}.tmp")

/// Writes bytes to a temporary file, flushes them to disk, then renames over the target.
let writeAllBytesAtomic (path: string) (bytes: ReadOnlySpan<byte>) =
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath path)) |> ignore
    let temp = tempBeside path
    try
        do
            use stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None)
            stream.Write bytes
            stream.Flush true
        File.Move(temp, path, true)
    with _ ->
        (try File.Delete temp with _ -> ())
        reraise ()

let writeAllTextAtomic (path: string) (text: string) =
    writeAllBytesAtomic path (ReadOnlySpan(Encoding.UTF8.GetBytes text))

/// Copies a folder tree (files and sub-folders).
let rec copyTree (source: string) (target: string) =
    Directory.CreateDirectory target |> ignore
    for file in Directory.GetFiles source do
        File.Copy(file, Path.Combine(target, Path.GetFileName file), true)
    for dir in Directory.GetDirectories source do
        copyTree dir (Path.Combine(target, Path.GetFileName dir))

/// Deletes a folder tree if it exists (best effort: a folder in use is left for the next run).
let deleteTree (path: string) =
    if Directory.Exists path then
        try Directory.Delete(path, true) with :? IOException | :? UnauthorizedAccessException -> ()

/// A relative path with forward slashes (stable in the registry whatever the OS).
let relative (root: string) (path: string) =
    Path.GetRelativePath(Path.GetFullPath root, Path.GetFullPath path).Replace('\\', '/')
