/// JSON conventions of the experiment files: camelCase, F# options as null-or-value, and one
/// canonical text form (keys sorted, nulls dropped, no spaces) for hashing.
module Mnist.Experiments.Json

open System
open System.Text.Json
open System.Text.Json.Nodes
open System.Text.Json.Serialization

let private create indented =
    let options =
        JsonSerializerOptions(
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // A diverged run's losses are NaN: kept as "NaN" rather than failing the run.
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            WriteIndented = indented)
    options.MakeReadOnly(true)
    options

/// Options for files people read (indented).
let options = create true
/// Options for compact text (registry columns, JSON lines).
let compact = create false

let serialize (value: 'T) = JsonSerializer.Serialize(value, options)
let serializeCompact (value: 'T) = JsonSerializer.Serialize(value, compact)
let deserialize<'T> (text: string) = JsonSerializer.Deserialize<'T>(text, options)

/// The node with object keys sorted (ordinal) at every depth and null members removed.
let rec private sorted (node: JsonNode) : JsonNode =
    match node with
    | null -> null
    | :? JsonObject as o ->
        let result = JsonObject()
        for KeyValue(key, value) in o |> Seq.sortBy (fun kv -> kv.Key) |> Seq.toList do
            if not (isNull value) then result[key] <- sorted value
        result
    | :? JsonArray as a -> JsonArray([| for item in a -> sorted item |])
    | value -> value.DeepClone()

/// JSON text from a file (a sweep, a spec.json) as a node, refusing (with a JsonException) duplicate
/// keys and text that .NET strings cannot hold (an escaped lone surrogate, "\ud800") here, rather
/// than wherever the node happens to be read later. Comments and trailing commas when asked.
let parseFile (text: string) (lenient: bool) : JsonNode =
    let options =
        JsonDocumentOptions(
            AllowDuplicateProperties = false,
            CommentHandling = (if lenient then JsonCommentHandling.Skip else JsonCommentHandling.Disallow),
            AllowTrailingCommas = lenient)
    // every key and string read once now: those are what throw (parsing itself does, checking for duplicates)
    let rec touch (node: JsonNode) =
        match node with
        | :? JsonObject as o -> for KeyValue(_, value) in o do touch value
        | :? JsonArray as a -> for value in a do touch value
        | :? JsonValue as v when v.GetValueKind() = JsonValueKind.String -> v.GetValue<string>() |> ignore
        | _ -> ()
    try
        let node = JsonNode.Parse(text, documentOptions = options)
        touch node
        node
    with :? InvalidOperationException as e -> raise (JsonException(e.Message, e))

/// The canonical text of a JSON value: sorted keys, no nulls, no insignificant whitespace.
let canonical (node: JsonNode) = (sorted node).ToJsonString(compact)
