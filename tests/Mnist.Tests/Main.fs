module Mnist.Tests.Main

[<EntryPoint>]
let main argv = Mnist.TestProgram.run [] argv Mnist.TestPostgres.stop
