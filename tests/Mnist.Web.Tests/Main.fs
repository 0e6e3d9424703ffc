module Mnist.Web.Tests.Main

open System.IO
open Expecto

[<EntryPoint>]
let main argv =
    // One test at a time: the tests share one trained model and a two-core machine, and the
    // concurrency they check is the server's own.
    Mnist.TestProgram.run [ CLIArguments.Sequenced ] argv (fun () ->
        Mnist.TestPostgres.stop ()
        try Directory.Delete(Fixture.scratchRoot, true) with _ -> ())
