/// The fuzzing harness: a parser under test is a Target; each case is run with a time and a memory
/// limit and judged. The property every target must keep: an input is either accepted (and the
/// result passes the target's own checks) or refused with our own error — never another
/// exception, never a 5xx, never a hang, never unbounded memory.
module Mnist.Fuzz.Harness

open System
open System.Diagnostics
open System.IO
open System.Security.Cryptography
open System.Threading.Tasks
open Mnist.Fuzz.Mutations

/// What a target made of one input.
type Verdict =
    /// Taken, and correct by the target's checks.
    | Accepted
    /// Refused with our own error; the string is its code (or the exception's type for CLI-side errors).
    | Refused of string

/// One parser that reads outside input. Adding a parser (a model manifest, say) is adding one of these
/// to <see cref="Targets.all"/>: its real seeds, the mutators that know its format, and how to run it.
type Target =
    { Name: string
      /// Real, valid inputs to start from (built lazily: some need files or a server).
      Seeds: Lazy<byte[] list>
      /// Mutators for this format, besides the byte-level ones every target gets.
      Mutators: Mutator list
      /// Runs one input; throws only when the input found a bug.
      Run: byte[] -> Verdict }

/// How a case went wrong.
type Failure =
    | Crash of string
    | Hang of TimeSpan
    | Hog of int64

type Outcome =
    | Passed of Verdict
    | Failed of Failure

let describe failure =
    match failure with
    | Crash message -> "crash: " + message
    | Hang limit -> $"hang: still running after {limit.TotalSeconds:F0} s"
    | Hog bytes -> $"memory: {bytes / (1L <<< 20)} MB allocated by one case"

type Limits = { Time: TimeSpan; AllocatedBytes: int64 }

let defaultLimits = { Time = TimeSpan.FromSeconds 20.0; AllocatedBytes = 768L <<< 20 }

/// Runs one case in a task of its own so a hang can be seen (and left behind) rather than wait forever.
let runCase (limits: Limits) (target: Target) (input: byte[]) =
    let before = GC.GetTotalAllocatedBytes false
    let work = Task.Run(fun () -> target.Run input)
    let finished = try work.Wait limits.Time with _ -> true
    if not finished then Failed(Hang limits.Time)
    else
        let allocated = GC.GetTotalAllocatedBytes false - before
        if work.IsFaulted then
            let e = work.Exception.InnerException
            let frame = (e.StackTrace |> Option.ofObj |> Option.defaultValue "").Split('\n') |> Array.tryHead |> Option.defaultValue ""
            Failed(Crash $"{e.GetType().Name}: {e.Message} {frame.Trim()}")
        elif allocated > limits.AllocatedBytes then Failed(Hog allocated)
        else Passed work.Result

/// The input the case number <paramref name="case"/> of a run with this seed tries: a seed mutated
/// one to four times. The same (target, seed, case) always gives the same input.
let mutant (target: Target) (seed: int) (case: int) =
    let seeds = target.Seeds.Value
    // not HashCode.Combine, which differs from one process to the next
    let rng = Random(seed * 1000003 + case * 7919 + (target.Name |> Seq.sumBy int))
    let mutators = bytesLevel @ target.Mutators @ [ splice seeds ]
    let mutable input = seeds[rng.Next seeds.Length]
    for _ in 1 .. 1 + rng.Next 4 do input <- mutators[rng.Next mutators.Length].Apply rng input
    input

/// A short stable name for an input.
let fingerprint (input: byte[]) = Convert.ToHexStringLower(SHA256.HashData input)[..11]

/// The repository's root (where Mnist.Experiments.sln is), found above the program's folder or the current one.
let repositoryRoot =
    lazy
        (let rec up (dir: DirectoryInfo) =
            if isNull dir then None
            elif File.Exists(Path.Combine(dir.FullName, "Mnist.Experiments.sln")) then Some dir.FullName
            else up dir.Parent
         match up (DirectoryInfo AppContext.BaseDirectory) |> Option.orElse (up (DirectoryInfo Environment.CurrentDirectory)) with
         | Some root -> root
         | None -> failwith "cannot find the repository root (Mnist.Experiments.sln) above the fuzzer or the current folder")

/// The regression corpus of a target: inputs kept because they once broke something or reach a
/// distinct refusal; replayed by every test run.
let corpusDir (target: Target) = Path.Combine(repositoryRoot.Value, "tests", "Mnist.Fuzz", "corpus", target.Name)

let corpus (target: Target) =
    let dir = corpusDir target
    if Directory.Exists dir then [ for f in Directory.GetFiles dir |> Array.sort -> Path.GetFileName f, File.ReadAllBytes f ] else []

/// Counts of one fuzzing run of a target.
type Tally =
    { Target: string
      mutable Cases: int
      mutable Accepted: int
      Refusals: Collections.Generic.SortedDictionary<string, int>
      Failures: ResizeArray<string * Failure * byte[]>
      Clock: Stopwatch }

let tally name =
    { Target = name; Cases = 0; Accepted = 0; Refusals = Collections.Generic.SortedDictionary(); Failures = ResizeArray(); Clock = Stopwatch.StartNew() }

let record (t: Tally) (label: string) (input: byte[]) (outcome: Outcome) =
    t.Cases <- t.Cases + 1
    match outcome with
    | Passed Accepted -> t.Accepted <- t.Accepted + 1
    | Passed(Refused code) -> t.Refusals[code] <- (match t.Refusals.TryGetValue code with | true, n -> n + 1 | _ -> 1)
    | Failed failure -> t.Failures.Add(label, failure, input)

let summary (t: Tally) =
    let refusals = t.Refusals |> Seq.sumBy (fun kv -> kv.Value)
    let codes = String.Join(", ", [ for kv in t.Refusals -> $"{kv.Key} {kv.Value}" ])
    $"{t.Target}: {t.Cases} cases in {t.Clock.Elapsed.TotalSeconds:F0} s: {t.Accepted} accepted, {refusals} refused ({codes}), {t.Failures.Count} failures"
