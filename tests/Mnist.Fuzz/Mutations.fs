/// Ways to break an input: byte-level (flips, interesting integers at any offset — lying lengths —,
/// truncation, insertion, deletion, duplication, splicing), text-level (invalid UTF-8, deep
/// nesting, huge numbers, long strings, dropped punctuation, JSON values swapped for others) and
/// format-level (a PNG's size or a chunk length that lies with its CRC fixed, a safetensors
/// header edited and repacked, an IDX file gzipped or made to inflate without end).
module Mnist.Fuzz.Mutations

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open System.Text
open System.Text.Json.Nodes
open System.Text.RegularExpressions

/// A named way of turning one input into another.
type Mutator = { Name: string; Apply: Random -> byte[] -> byte[] }

let private pick (rng: Random) (items: 'a list) = items[rng.Next items.Length]
let private offset (rng: Random) (bytes: byte[]) = if bytes.Length = 0 then 0 else rng.Next bytes.Length

/// Integers at the edges of every width and sign, and sizes the parsers know.
let interestingIntegers: int64 list =
    [ 0L; 1L; -1L; 2L; 7L; 8L; 28L; 255L; 256L; 784L; 4096L; 65535L; 65536L; 60000L; 1000000L
      0x7FFFL; 0x8000L; 0x7FFFFFFFL; 0x80000000L; 0xFFFFFFFFL; 0x100000000L; Int64.MaxValue; Int64.MinValue ]

let private writeInteger (bytes: byte[]) (at: int) (width: int) (bigEndian: bool) (value: int64) =
    let span = Span(bytes, at, width)
    match width, bigEndian with
    | 2, true -> BinaryPrimitives.WriteInt16BigEndian(span, int16 value)
    | 2, false -> BinaryPrimitives.WriteInt16LittleEndian(span, int16 value)
    | 4, true -> BinaryPrimitives.WriteInt32BigEndian(span, int32 value)
    | 4, false -> BinaryPrimitives.WriteInt32LittleEndian(span, int32 value)
    | _, true -> BinaryPrimitives.WriteInt64BigEndian(span, value)
    | _, false -> BinaryPrimitives.WriteInt64LittleEndian(span, value)

/// The same bytes with an interesting integer written at one offset.
let withInteger (rng: Random) (at: int) (bytes: byte[]) =
    let width = pick rng [ 2; 4; 8 ]
    if bytes.Length < at + width then bytes
    else
        let copy = Array.copy bytes
        writeInteger copy at width (rng.Next 2 = 0) (pick rng interestingIntegers)
        copy

let private randomBytes (rng: Random) (n: int) = Array.init n (fun _ -> byte (rng.Next 256))

// ---- byte level ----------------------------------------------------------------------------------

let bytesLevel: Mutator list =
    [ { Name = "flip a bit"; Apply = fun rng b -> (let c = Array.copy b in (if c.Length > 0 then let i = offset rng c in c[i] <- c[i] ^^^ (1uy <<< rng.Next 8)); c) }
      { Name = "set a byte"; Apply = fun rng b -> (let c = Array.copy b in (if c.Length > 0 then c[offset rng c] <- pick rng [ 0uy; 0xFFuy; 0x7Fuy; 0x80uy; byte (rng.Next 256) ]); c) }
      { Name = "write an interesting integer"; Apply = fun rng b -> withInteger rng (offset rng b) b }
      { Name = "truncate"; Apply = fun rng b -> if b.Length = 0 then b else b[.. rng.Next b.Length - 1] }
      { Name = "insert random bytes"; Apply = fun rng b -> (let at = offset rng b in Array.concat [ b[.. at - 1]; randomBytes rng (1 + rng.Next 64); b[at ..] ]) }
      { Name = "delete a range"; Apply = fun rng b -> if b.Length < 2 then b else (let at = offset rng b in let n = 1 + rng.Next(min 1024 (b.Length - at)) in Array.append b[.. at - 1] b[at + n ..]) }
      { Name = "duplicate a range"; Apply = fun rng b -> if b.Length < 2 then b else (let at = offset rng b in let n = 1 + rng.Next(min 4096 (b.Length - at)) in Array.concat [ b[.. at + n - 1]; b[at .. at + n - 1]; b[at + n ..] ]) }
      { Name = "append garbage"; Apply = fun rng b -> Array.append b (randomBytes rng (1 + rng.Next 256)) }
      { Name = "empty"; Apply = fun _ _ -> [||] } ]

/// Half of one input and half of another (two seeds of the same target).
let splice (donors: byte[] list) =
    { Name = "splice with another seed"
      Apply = fun rng b ->
        let other = pick rng donors
        if b.Length = 0 || other.Length = 0 then b else Array.append b[.. rng.Next b.Length] other[rng.Next other.Length ..] }

// ---- text and JSON ------------------------------------------------------------------------------

let private utf8 (text: string) = Encoding.UTF8.GetBytes text
let private text (bytes: byte[]) = Encoding.UTF8.GetString bytes

/// Replaces one regex match, chosen at random, by what <paramref name="make"/> gives.
let private replaceOne (pattern: Regex) (make: Random -> string) (rng: Random) (bytes: byte[]) =
    let s = text bytes
    let matches = pattern.Matches s
    if matches.Count = 0 then bytes
    else
        let m = matches[rng.Next matches.Count]
        utf8 (s.Substring(0, m.Index) + make rng + s.Substring(m.Index + m.Length))

let private numberToken = Regex(@"-?\d+(\.\d+)?([eE][-+]?\d+)?", RegexOptions.Compiled)
let private stringToken = Regex("\"(?:[^\"\\\\]|\\\\.)*\"", RegexOptions.Compiled)

let hugeNumbers =
    [ "1e999999"; "-1e999999"; "1e-999999"; "123456789012345678901234567890"; "-0"; "NaN"; "Infinity"; "-Infinity"
      "0x10"; "1.7976931348623157e309"; "4294967296"; "2147483648"; "-2147483649"; "9223372036854775808"; "1e400"; "00"; "1."; ".5" ]

let private jsonValues: (Random -> JsonNode) list =
    [ (fun _ -> null)
      (fun _ -> JsonValue.Create true)
      (fun rng -> JsonValue.Create(pick rng [ 0.0; -1.0; 1e308; 5e-324; 0.5; 1e9; -1e9 ]))
      (fun rng -> JsonValue.Create(pick rng [ Int64.MaxValue; Int64.MinValue; 2147483648L; -1L; 0L ]))
      (fun rng -> JsonValue.Create(pick rng [ ""; "classic"; "adam"; "relu"; "mnist"; "../../etc"; "\u0000"; String('x', 100000) ]))
      (fun _ -> JsonArray())
      (fun rng -> JsonArray([| for _ in 1 .. rng.Next 5 -> JsonValue.Create(rng.NextDouble()) :> JsonNode |]))
      (fun _ -> JsonObject()) ]

/// Every node of a JSON tree with a way to replace it (the root excluded).
let rec private slots (node: JsonNode) : (JsonNode -> unit) list =
    match node with
    | :? JsonObject as o ->
        [ for KeyValue(key, child) in List.ofSeq o do
              yield (fun (v: JsonNode) -> o[key] <- v)
              yield (fun _ -> o.Remove key |> ignore)
              if not (isNull child) then yield! slots child ]
    | :? JsonArray as a ->
        [ for i in 0 .. a.Count - 1 do
              yield (fun (v: JsonNode) -> a[i] <- v)
              if not (isNull a[i]) then yield! slots a[i] ]
    | _ -> []

/// A JSON-aware change: a node swapped for another value or removed (inputs that do not parse are left alone).
let private structural (rng: Random) (bytes: byte[]) =
    try
        match JsonNode.Parse(text bytes, documentOptions = Text.Json.JsonDocumentOptions(CommentHandling = Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true)) with
        | null -> bytes
        | root ->
            let places = slots root
            if places.IsEmpty then bytes
            else
                (pick rng places) ((pick rng jsonValues) rng)
                utf8 (root.ToJsonString())
    with _ -> bytes

let textLevel: Mutator list =
    [ { Name = "invalid UTF-8"
        Apply = fun rng b ->
          let bad = pick rng [ [| 0xC3uy; 0x28uy |]; [| 0xFFuy |]; [| 0xEDuy; 0xA0uy; 0x80uy |]; [| 0xF4uy; 0x90uy; 0x80uy; 0x80uy |]; [| 0xC0uy; 0x80uy |]; [| 0xE2uy; 0x82uy |] ]
          let at = offset rng b
          Array.concat [ b[.. at - 1]; bad; b[at ..] ] }
      { Name = "deep nesting"
        Apply = fun rng b ->
          let depth = pick rng [ 65; 1000; 100000 ]
          let opener, closer = pick rng [ "[", "]"; "{\"a\":", "}" ]
          let s = text b
          match numberToken.Match s with
          | m when m.Success && rng.Next 2 = 0 ->
              utf8 (s.Substring(0, m.Index) + String.replicate depth opener + m.Value + String.replicate depth closer + s.Substring(m.Index + m.Length))
          | _ -> utf8 (String.replicate depth opener + s + String.replicate depth closer) }
      { Name = "a huge or odd number"; Apply = replaceOne numberToken (fun rng -> pick rng hugeNumbers) }
      { Name = "a long or odd string"
        Apply = replaceOne stringToken (fun rng -> pick rng [ "\"" + String('A', 1 <<< 20) + "\""; "\"\\u0000\""; "\"\\ud800\""; "\"\\\""; "\"\"" ]) }
      { Name = "drop punctuation"; Apply = replaceOne (Regex "[{}\\[\\],:\"]") (fun _ -> "") }
      { Name = "add punctuation"; Apply = replaceOne (Regex "[{}\\[\\],:]") (fun rng -> pick rng [ ",,"; "]"; "}"; "{"; "["; "::"; "/*"; "//" ]) }
      { Name = "swap a JSON value"; Apply = structural }
      { Name = "swap two JSON values"; Apply = fun rng b -> structural rng (structural rng b) } ]

// ---- formats --------------------------------------------------------------------------------------

let private crcTable =
    Array.init 256 (fun n ->
        let mutable c = uint32 n
        for _ in 1..8 do c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
        c)

let private crc32 (bytes: ReadOnlySpan<byte>) =
    let mutable c = 0xFFFFFFFFu
    for b in bytes do c <- crcTable[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)
    c ^^^ 0xFFFFFFFFu

/// The offsets of a PNG's chunks (their length field), as far as they can be followed.
let private pngChunks (b: byte[]) =
    let rec walk at acc =
        if at + 12 > b.Length then List.rev acc
        else
            let length = int64 (BinaryPrimitives.ReadUInt32BigEndian(ReadOnlySpan(b, at, 4)))
            if int64 at + 12L + length > int64 b.Length then List.rev (at :: acc) else walk (at + 12 + int length) (at :: acc)
    walk 8 []

let png: Mutator list =
    [ { Name = "PNG: a size that lies (CRC fixed)"
        Apply = fun rng b ->
          if b.Length < 33 || b[12] <> byte 'I' then b
          else
              let c = Array.copy b
              let dimension () = int (pick rng [ 0L; 1L; 30000L; 65535L; 100000L; 0x7FFFFFFFL; 0x80000000L; int64 (rng.Next 5000) ])
              BinaryPrimitives.WriteInt32BigEndian(Span(c, 16, 4), dimension ())
              BinaryPrimitives.WriteInt32BigEndian(Span(c, 20, 4), dimension ())
              if rng.Next 3 = 0 then c[24] <- pick rng [ 1uy; 2uy; 4uy; 16uy; 3uy ] // bit depth
              BinaryPrimitives.WriteUInt32BigEndian(Span(c, 29, 4), crc32 (ReadOnlySpan(c, 12, 17)))
              c }
      { Name = "PNG: a chunk length that lies"
        Apply = fun rng b ->
          match pngChunks b with
          | [] -> b
          | chunks ->
              let c = Array.copy b
              writeInteger c (pick rng chunks) 4 true (pick rng interestingIntegers)
              c } ]

let jpeg: Mutator list =
    [ { Name = "JPEG: a frame size that lies"
        Apply = fun rng b ->
          let sof = seq { 2 .. b.Length - 9 } |> Seq.tryFind (fun i -> b[i] = 0xFFuy && (b[i + 1] = 0xC0uy || b[i + 1] = 0xC2uy))
          match sof with
          | None -> b
          | Some at ->
              let c = Array.copy b
              BinaryPrimitives.WriteUInt16BigEndian(Span(c, at + 5, 2), uint16 (pick rng [ 0; 1; 30000; 65535; rng.Next 65536 ]))
              BinaryPrimitives.WriteUInt16BigEndian(Span(c, at + 7, 2), uint16 (pick rng [ 0; 1; 30000; 65535; rng.Next 65536 ]))
              c }
      { Name = "JPEG: a segment length that lies"
        Apply = fun rng b ->
          let markers = [ for i in 2 .. b.Length - 4 do if b[i] = 0xFFuy && b[i + 1] >= 0xC0uy && b[i + 1] <> 0xFFuy then yield i ]
          if markers.IsEmpty then b
          else
              let c = Array.copy b
              BinaryPrimitives.WriteUInt16BigEndian(Span(c, pick rng markers + 2, 2), uint16 (pick rng [ 0; 1; 2; 65535; rng.Next 65536 ]))
              c } ]

/// safetensors: the 8-byte header length, and the JSON header edited with the text mutators and repacked.
let safetensors: Mutator list =
    let repack (rng: Random) (b: byte[]) =
        if b.Length < 8 then b
        else
            let n = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan b)
            if n > uint64 (b.Length - 8) then b
            else
                let header = b[8 .. 8 + int n - 1]
                let edited = (pick rng textLevel).Apply rng header
                let length = Array.zeroCreate 8
                BinaryPrimitives.WriteUInt64LittleEndian(Span length, uint64 edited.Length)
                Array.concat [ length; edited; b[8 + int n ..] ]
    [ { Name = "safetensors: a header length that lies"; Apply = fun rng b -> (let c = Array.copy b in (if c.Length >= 8 then writeInteger c 0 8 false (pick rng interestingIntegers)); c) }
      { Name = "safetensors: the header edited and repacked"; Apply = repack }
      { Name = "safetensors: the header edited twice"; Apply = fun rng b -> repack rng (repack rng b) } ]

let private gzip (bytes: byte[]) =
    use out = new MemoryStream()
    (use z = new GZipStream(out, CompressionLevel.Fastest, true) in z.Write(bytes, 0, bytes.Length))
    out.ToArray()

let idx: Mutator list =
    [ { Name = "IDX: a dimension that lies"
        Apply = fun rng b -> if b.Length < 8 then b else withInteger rng (4 + 4 * rng.Next(max 1 (min 3 ((b.Length - 4) / 4)))) b }
      { Name = "IDX: gzipped"; Apply = fun _ b -> if b.Length >= 2 && b[0] = 0x1Fuy && b[1] = 0x8Buy then b else gzip b }
      { Name = "IDX: gzipped, inflating far past its header"
        Apply = fun rng b ->
          let header = if b.Length >= 16 then b[.. 15] else [| 0uy; 0uy; 8uy; 3uy; 0uy; 0uy; 0uy; 1uy; 0uy; 0uy; 0uy; 28uy; 0uy; 0uy; 0uy; 28uy |]
          gzip (Array.append header (Array.zeroCreate (pick rng [ 1 <<< 20; 64 <<< 20 ]))) } ]
