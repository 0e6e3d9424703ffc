/// `mnist devices`: what --device can name on this machine.
module Mnist.Cli.DevicesCommand

open Mnist.Core.Backends

let run () =
    for device in Devices.List() do printfn "%O" device
    let missing = DeviceName.Kinds |> Seq.except (Devices.AvailableKinds()) |> List.ofSeq
    if not missing.IsEmpty then
        printfn "(%s: not in this build; they come with the GPU backend, %s)" (String.concat ", " missing) (String.concat ", " Devices.ProviderAssemblies)
    0
