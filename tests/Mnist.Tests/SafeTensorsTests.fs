/// The safetensors reader and writer: exact bytes against a hand-worked example, bit-exact round
/// trips, one clear error per malformed file, and atomic writes.
module Mnist.Tests.SafeTensorsTests

open System
open System.Collections.Generic
open System.IO
open System.Text
open Expecto
open Mnist.Core
open Mnist.Core.IO
open Mnist.Core.Tensors
open Mnist.Tests.TestData

let private tensor (shape: int[]) (values: float32[]) = Tensor(values, shape)

let private bitsOf (t: Tensor) = t.Span.ToArray() |> Array.map BitConverter.SingleToInt32Bits

let private le64 (n: uint64) = BitConverter.GetBytes n |> fun b -> (if BitConverter.IsLittleEndian then b else Array.rev b)

/// A file built by hand: length prefix, header text as given (no padding), data.
let private fileOf (header: string) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes header
    Array.concat [ le64 (uint64 h.Length); h; data ]

let private messageOf (f: unit -> 'a) =
    try
        f () |> ignore
        failtest "expected a MnistException"
    with :? MnistException as e -> e.Message

let private noMetadata : IReadOnlyDictionary<string, string> = null

// ------------------------------------------------------------------ exact layout

let private layoutTests =
    testList "layout" [
        test "a tiny file's bytes, worked out by hand from the spec" {
            let bytes =
                SafeTensors.Serialize([| struct ("a", tensor [| 2 |] [| 1f; -2f |]) |], readOnlyDict [ "k", "v" ])
            let json = """{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"""
            Expect.equal json.Length 79 "79 bytes of JSON, padded with one space to 80"
            let expected =
                Array.concat [
                    [| 80uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy |]    // header length, u64 little-endian
                    Encoding.ASCII.GetBytes json
                    [| 0x20uy |]                                     // pad to a multiple of 8
                    [| 0x00uy; 0x00uy; 0x80uy; 0x3Fuy |]             // 1.0f  = 0x3F800000
                    [| 0x00uy; 0x00uy; 0x00uy; 0xC0uy |] ]           // -2.0f = 0xC0000000
            Expect.equal bytes expected "bytes"
        }
        test "no metadata: no __metadata__ key; offsets follow the given order; header 8-aligned" {
            let bytes =
                SafeTensors.Serialize(
                    [| struct ("z", tensor [| 1; 3 |] [| 1f; 2f; 3f |]); struct ("b", tensor [||] [| 4f |]); struct ("e", tensor [| 0 |] [||]) |],
                    noMetadata)
            let n = BitConverter.ToUInt64(bytes, 0)
            Expect.equal (n % 8UL) 0UL "aligned"
            let header = Encoding.UTF8.GetString(bytes, 8, int n)
            Expect.equal (header.TrimEnd ' ')
                """{"z":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[],"data_offsets":[12,16]},"e":{"dtype":"F32","shape":[0],"data_offsets":[16,16]}}"""
                "header"
            Expect.equal bytes.Length (8 + int n + 16) "data region"
        }
    ]

// ------------------------------------------------------------------ round trips

let private specials =
    [| nanf
       BitConverter.Int32BitsToSingle 0x7FC00123    // quiet NaN with a payload
       BitConverter.Int32BitsToSingle 0xFFA00001    // negative signalling NaN
       -0f; 0f; infinityf; -infinityf
       BitConverter.Int32BitsToSingle 1             // smallest denormal
       BitConverter.Int32BitsToSingle 0x807FFFFF    // largest negative denormal
       Single.MaxValue; Single.MinValue; Single.Epsilon; 1f / 3f |]

let private sample () =
    [| struct ("specials", tensor [| specials.Length |] (Array.copy specials))
       struct ("conv1.weight", tensor [| 2; 1; 3; 3 |] (Array.init 18 (fun i -> float32 i * 0.1f - 0.9f)))
       struct ("scalar", tensor [||] [| 42f |])
       struct ("empty", tensor [| 0; 4 |] [||])
       struct ("ünïcødé \"name\"", tensor [| 1 |] [| -1f |]) |]

let private metadata =
    readOnlyDict [ "format", "pt"; "config", """{"layers":[{"kind":"conv","filters":8}]}"""; "note", "línea\nnueva\t<tab> & \"quotes\"" ]

let private expectSame (tensors: struct (string * Tensor)[]) (file: SafeTensorsFile) =
    Expect.sequenceEqual (file.Tensors.Keys |> List.ofSeq) [ for struct (n, _) in tensors -> n ] "names in order"
    for struct (name, t) in tensors do
        let back = file.Get name
        Expect.equal (back.Shape.ToArray()) (t.Shape.ToArray()) $"{name} shape"
        Expect.equal (bitsOf back) (bitsOf t) $"{name} bits"
    let pairs (d: IReadOnlyDictionary<string, string>) = [ for KeyValue(k, v) in d -> k, v ] |> List.sort
    Expect.equal (pairs file.Metadata) (pairs metadata) "metadata"

let private roundTripTests =
    testList "round trip" [
        test "bytes: bit-exact, NaN payloads, -0, denormals, empty and scalar tensors, metadata" {
            let tensors = sample ()
            let bytes = SafeTensors.Serialize(tensors, metadata)
            expectSame tensors (SafeTensors.Parse(bytes, "memory"))
            Expect.equal (SafeTensors.Serialize((SafeTensors.Parse(bytes, "memory")).Entries |> Array.ofSeq, metadata)) bytes
                "re-serialising gives the same bytes"
        }
        test "file and stream" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "model.safetensors")
            let tensors = sample ()
            SafeTensors.Write(path, tensors, metadata)
            expectSame tensors (SafeTensors.Read path)
            use stream = File.OpenRead path
            expectSame tensors (SafeTensors.Read(stream, "upload"))
            use memory = new MemoryStream()
            SafeTensors.Write(memory, tensors, metadata)
            Expect.equal (memory.ToArray()) (File.ReadAllBytes path) "stream and file bytes agree"
        }
        test "lookups name the file when something is missing" {
            let file = SafeTensors.Parse(SafeTensors.Serialize(sample (), metadata), "m.safetensors")
            Expect.stringContains (messageOf (fun () -> file.Get "nope")) "'m.safetensors' has no tensor 'nope'" "missing tensor"
            Expect.stringContains (messageOf (fun () -> file.Get("scalar", [| 2 |]))) "has shape [], expected [2]" "wrong shape"
            Expect.stringContains (messageOf (fun () -> file.GetMetadata "x")) "no metadata entry 'x'" "missing metadata"
        }
        test "the writer refuses duplicate and reserved names" {
            let t = tensor [| 1 |] [| 1f |]
            Expect.throwsT<ArgumentException> (fun () -> SafeTensors.Serialize([| struct ("a", t); struct ("a", t) |], noMetadata) |> ignore) "dup"
            Expect.throwsT<ArgumentException> (fun () -> SafeTensors.Serialize([| struct ("__metadata__", t) |], noMetadata) |> ignore) "reserved"
        }
    ]

// ------------------------------------------------------------------ malformed files

let private f32 (name: string) (shape: string) (b: int) (e: int) =
    $"\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[{b},{e}]}}"

let private malformed : (string * byte[] * string) list =
    let data n = Array.zeroCreate<byte> n
    [ "too short", [| 1uy; 2uy; 3uy |], "3 bytes long, too short for the 8-byte header length"
      "empty header", le64 0UL, "the header length is 0"
      "absurd header length", Array.append (le64 (1UL <<< 40)) (data 16), "header length 1099511627776 is absurd"
      "header past the end", Array.append (le64 100UL) (Encoding.ASCII.GetBytes "{}      "), "header length 100 runs past the end of the data (16 bytes"
      "not JSON", fileOf """{"a": """ [||], "the header is not valid JSON"
      "not UTF-8", Array.concat [ le64 4UL; [| 0x7Buy; 0xFFuy; 0xFEuy; 0x7Duy |] ], "the header is not valid UTF-8"
      "a lone surrogate", fileOf """{"__metadata__":{"k":"\ud800"}}""" [||], "the header holds text that is not valid Unicode"
      "trailing garbage", fileOf "{} x" [||], "the header is not valid JSON"
      "not an object", fileOf "[1, 2]" [||], "the header is not a JSON object"
      "entry not an object", fileOf """{"a":[1]}""" [||], "entry 'a' is not a JSON object"
      "no dtype", fileOf """{"a":{"shape":[1],"data_offsets":[0,4]}}""" (data 4), "tensor 'a' has no dtype"
      "no shape", fileOf """{"a":{"dtype":"F32","data_offsets":[0,4]}}""" (data 4), "tensor 'a' has no shape"
      "no offsets", fileOf """{"a":{"dtype":"F32","shape":[1]}}""" (data 4), "tensor 'a' has no data_offsets"
      "F16", fileOf """{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""" (data 4), "tensor 'a' has dtype F16; only F32 is supported"
      "dtype not a string", fileOf """{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}""" (data 4), "has dtype 32, which is not a string"
      "negative dimension", fileOf ("{" + f32 "a" "[-1]" 0 4 + "}") (data 4), "tensor 'a' has an invalid shape [-1]"
      "fractional dimension", fileOf ("{" + f32 "a" "[1.5]" 0 4 + "}") (data 4), "tensor 'a' has an invalid shape [1.5]"
      "a shape of booleans", fileOf ("{" + f32 "a" "[true]" 0 4 + "}") (data 4), "tensor 'a' has an invalid shape [true]"
      "shape not an array", fileOf ("{" + f32 "a" "4" 0 4 + "}") (data 4), "tensor 'a' has an invalid shape 4"
      "offsets reversed", fileOf ("{" + f32 "a" "[1]" 8 4 + "}") (data 8), "tensor 'a' has invalid data_offsets [8,4]"
      "offsets negative", fileOf """{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}""" (data 4), "invalid data_offsets [-4,0]"
      "offsets as strings", fileOf """{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""" (data 4), "invalid data_offsets [\"0\",\"4\"]"
      "one offset", fileOf """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}""" (data 4), "invalid data_offsets [4]"
      "shape/size mismatch", fileOf ("{" + f32 "a" "[3]" 0 8 + "}") (data 8), "tensor 'a' has shape [3] (3 floats = 12 bytes) but its data_offsets [0, 8] span 8 bytes"
      "huge shape", fileOf ("{" + f32 "a" "[65536,65536]" 0 4 + "}") (data 4), "too many elements"
      "offsets out of range", fileOf ("{" + f32 "a" "[2]" 0 8 + "}") (data 4), "tensor 'a' has data_offsets [0, 8] beyond the end of the data (4 bytes)"
      "overlap", fileOf ("{" + f32 "a" "[2]" 0 8 + "," + f32 "b" "[2]" 4 12 + "}") (data 12), "tensors 'a' and 'b' overlap"
      "gap", fileOf ("{" + f32 "a" "[1]" 0 4 + "," + f32 "b" "[1]" 8 12 + "}") (data 12), "bytes 4 to 8 of the data belong to no tensor (a gap before 'b')"
      "uncovered tail", fileOf ("{" + f32 "a" "[1]" 0 4 + "}") (data 8), "the last 4 bytes of the data belong to no tensor"
      "duplicate name", fileOf ("{" + f32 "a" "[1]" 0 4 + "," + f32 "a" "[1]" 0 4 + "}") (data 4), "tensor name 'a' appears twice"
      "metadata not an object", fileOf """{"__metadata__":["x"]}""" [||], "__metadata__ is not a JSON object"
      "metadata value not a string", fileOf """{"__metadata__":{"epochs":3}}""" [||], "metadata value for 'epochs' is not a string (it is 3)" ]

let private malformedTests =
    testList "malformed" [
        for name, bytes, fragment in malformed do
            test name {
                let message = messageOf (fun () -> SafeTensors.Parse(bytes, $"{name}.safetensors"))
                Expect.stringContains message $"'{name}.safetensors' is not a valid safetensors file: " "names the file"
                Expect.stringContains message fragment "says what is wrong"
            }
        test "every malformed case has its own message" {
            let messages = [ for name, bytes, _ in malformed -> (messageOf (fun () -> SafeTensors.Parse(bytes, "x"))) ]
            let distinct = messages |> List.distinct
            // the three not-JSON cases share their lead-in but differ in the parser's detail
            Expect.equal distinct.Length messages.Length "distinct messages"
        }
        test "a missing file, a truncated file on disk" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "nope.safetensors")
            Expect.stringContains (messageOf (fun () -> SafeTensors.Read path)) $"'{path}' does not exist" "missing"
            let good = SafeTensors.Serialize(sample (), metadata)
            File.WriteAllBytes(path, good.[.. good.Length - 2])
            Expect.stringContains (messageOf (fun () -> SafeTensors.Read path)) $"'{path}' is not a valid safetensors file" "truncated"
        }
        test "the reference reader's null metadata is accepted as none" {
            let file = SafeTensors.Parse(fileOf ("{\"__metadata__\":null," + f32 "a" "[1]" 0 4 + "}") (le64 0UL).[.. 3], "x")
            Expect.equal file.Metadata.Count 0 "no metadata"
            Expect.equal (file.Get "a").[0] 0f "tensor"
        }
    ]

// ------------------------------------------------------------------ atomic writes

let private filesIn (dir: string) = Directory.GetFileSystemEntries dir |> Array.map Path.GetFileName |> Array.sort |> List.ofArray

/// A tensor list that throws once the writer has started on disk (any file besides
/// `keep` exists in `dir`), to fail a write half-way.
let private failingOnceWriting (dir: string) (keep: string) (items: struct (string * Tensor)[]) =
    let started () = Directory.GetFiles dir |> Array.exists (fun f -> Path.GetFileName f <> keep)
    let enumerator () : IEnumerator<struct (string * Tensor)> =
        if started () then raise (InvalidOperationException "disk full (simulated)")
        (items :> seq<_>).GetEnumerator()
    { new IReadOnlyList<struct (string * Tensor)> with
        member _.Count = items.Length
        member _.Item with get i = (if started () then raise (InvalidOperationException "disk full (simulated)")); items.[i]
        member _.GetEnumerator() = enumerator ()
      interface Collections.IEnumerable with
        member _.GetEnumerator() = enumerator () :> Collections.IEnumerator }

let private atomicTests =
    testList "atomic write" [
        test "writing and overwriting leave only the target" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "w.safetensors")
            SafeTensors.Write(path, sample (), metadata)
            SafeTensors.Write(path, [| struct ("x", tensor [| 1 |] [| 5f |]) |], noMetadata)
            Expect.equal (filesIn dir.Path) [ "w.safetensors" ] "no temporary files"
            Expect.equal ((SafeTensors.Read path).Get "x").[0] 5f "overwritten"
        }
        test "a write that fails half-way leaves the old file intact and no temporary file" {
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "w.safetensors")
            SafeTensors.Write(path, sample (), metadata)
            let before = File.ReadAllBytes path
            let failing = failingOnceWriting dir.Path "w.safetensors" [| struct ("x", tensor [| 1 |] [| 5f |]) |]
            Expect.throwsT<InvalidOperationException> (fun () -> SafeTensors.Write(path, failing, noMetadata)) "the failure surfaces"
            Expect.equal (filesIn dir.Path) [ "w.safetensors" ] "temporary file removed"
            Expect.equal (File.ReadAllBytes path) before "old file intact"
        }
        test "bad targets give clear errors and write nothing" {
            use dir = new TempDir()
            let missing = Path.Combine(dir.Path, "no-such-folder", "w.safetensors")
            Expect.stringContains (messageOf (fun () -> SafeTensors.Write(missing, sample (), metadata))) "does not exist" "missing folder"
            Directory.CreateDirectory(Path.Combine(dir.Path, "taken")) |> ignore
            Expect.stringContains (messageOf (fun () -> SafeTensors.Write(Path.Combine(dir.Path, "taken"), sample (), metadata))) "it is a folder" "folder"
            let t = tensor [| 1 |] [| 1f |]
            Expect.throwsT<ArgumentException> (fun () -> SafeTensors.Write(Path.Combine(dir.Path, "d.safetensors"), [| struct ("a", t); struct ("a", t) |], noMetadata)) "dup"
            Expect.equal (filesIn dir.Path) [ "taken" ] "nothing written"
        }
    ]

[<Tests>]
let tests = testList "SafeTensors" [ layoutTests; roundTripTests; malformedTests; atomicTests ]
