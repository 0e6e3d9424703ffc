[<EntryPoint>]
let main _ = 0
