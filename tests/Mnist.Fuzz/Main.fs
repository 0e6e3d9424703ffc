module Mnist.Fuzz.Main

open System.IO
open Expecto

/// Without arguments (or with Expecto's), the bounded fuzz tests CI runs; `fuzz ...` is the long
/// run (LongRun.fs); `photos <folder>` writes the test photographs of digits, to try by hand:
///   curl -s -H "Content-Type: image/jpeg" --data-binary @folder/photo-7-a.jpg http://localhost:5000/api/predict
[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | "fuzz" :: rest -> LongRun.run rest
    | [ "photos"; folder ] ->
        Directory.CreateDirectory folder |> ignore
        for i, digit in List.indexed (List.truncate 4 Seeds.digits.Value) do
            for style, name in List.zip Mnist.TestImages.photoStyles [ "a"; "b"; "c"; "d" ] do
                let path = Path.Combine(folder, $"photo{i}-{name}.jpg")
                File.WriteAllBytes(path, Mnist.TestImages.photograph { style with Seed = style.Seed + 100 * i } (Mnist.TestImages.mnistMask digit))
                printfn "%s" path
        0
    // one test at a time: the web targets share one server, whose overload limit is part of what is tested elsewhere
    | _ -> Mnist.TestProgram.run [ CLIArguments.Sequenced ] argv ignore
