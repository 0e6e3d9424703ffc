namespace Mnist.Experiments

open System
open System.IO
open System.Threading

/// A run's exclusive training lock, held while one process trains the run. Whoever holds it
/// calls Filed() once the run is complete in the registry; disposing lets go of it.
[<AbstractClass>]
type RunLock() =
    let mutable filed = false
    let mutable released = false

    /// The run is complete and filed: whoever takes the lock next finds it done.
    member _.Filed() = filed <- true

    /// Lets go of the lock; filed says the run is complete (a lock file can then go).
    abstract Release: filed: bool -> unit

    interface IDisposable with
        member this.Dispose() =
            if not released then
                released <- true
                this.Release filed

/// Who is training which run. A lock dies with the process that holds it (killed, cancelled,
/// its machine restarted), so a run whose row says "running" but whose lock nobody holds was
/// interrupted and can be resumed.
type IRunLocks =
    /// The run's lock, or None when another process holds it.
    abstract TryAcquire: id: string -> RunLock option
    /// Whether some process holds the run's lock now.
    abstract IsHeld: id: string -> bool

/// The lock of an SQLite registry: an OS file lock on results/.partial/<id>.lock, which the OS
/// drops when the process dies.
type FileRunLocks(results: string) =
    let path id = Layout.lockFile results id

    let tryOpen (mode: FileMode) (access: FileAccess) (share: FileShare) id =
        try Some(new FileStream(path id, mode, access, share))
        with
        | :? FileNotFoundException
        | :? DirectoryNotFoundException -> None
        | :? IOException -> None

    interface IRunLocks with
        member _.TryAcquire id =
            Directory.CreateDirectory(Layout.partialRoot results) |> ignore
            // IsHeld, from another process, holds a shared lock for an instant: look again
            // before calling the run busy.
            let rec attempt tries =
                match tryOpen FileMode.OpenOrCreate FileAccess.ReadWrite FileShare.None id with
                | Some stream -> Some stream
                | None when tries > 1 ->
                    Thread.Sleep 50
                    attempt (tries - 1)
                | None -> None
            attempt 4
            |> Option.map (fun stream ->
                { new RunLock() with
                    member _.Release filed =
                        // Removed only for a filed run, still under the lock: a process that opened
                        // the old file finds the run complete once it gets the lock. An unfinished
                        // run keeps its file, so two processes can never lock two different files.
                        if filed then (try File.Delete(path id) with _ -> ())
                        stream.Dispose() })

        member _.IsHeld id =
            File.Exists(path id)
            && (match tryOpen FileMode.Open FileAccess.Read FileShare.ReadWrite id with
                | Some probe ->
                    probe.Dispose()
                    false
                | None -> File.Exists(path id))
