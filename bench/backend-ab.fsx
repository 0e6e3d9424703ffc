// Times the CPU backend's element-wise, batch-norm and dropout entry points on the classic conv1
// output at batch 64 ([64, 32, 28, 28], 1.6 M floats): median of 7 calls each, in µs. For a
// before/after comparison run it against two builds of Mnist.Core, alternating, e.g.
//   sed "s|DLL|/old/Mnist.Core.dll|" bench/backend-ab.fsx > /tmp/old.fsx && dotnet fsi /tmp/old.fsx
//   sed "s|DLL|src/Mnist.Core/bin/Release/net10.0/Mnist.Core.dll|" bench/backend-ab.fsx > /tmp/new.fsx && dotnet fsi /tmp/new.fsx
// (the fused entry points are called where the build has them, their two-step equivalents elsewhere).
#r "DLL"
open System
open System.Diagnostics
open Mnist.Core
open Mnist.Core.Backends
open Mnist.Core.Tensors
open Mnist.Core.Kernels
let be = Backend.Cpu
let r = Random(1)
let batch, ch, plane = 64, 32, 28 * 28
let n = batch * ch * plane
let t (dims: int[]) = Tensor(be, dims)
let fill (x: Tensor) = let s = x.Span in (for i in 0 .. s.Length - 1 do s[i] <- float32 (r.NextDouble() * 6.0 - 3.0))
let x, dy, y, dx, xhat, mask = t [| batch; ch; 28; 28 |], t [| batch; ch; 28; 28 |], t [| batch; ch; 28; 28 |], t [| batch; ch; 28; 28 |], t [| batch; ch; 28; 28 |], t [| batch; ch; 28; 28 |]
fill x; fill dy
let g, b, m, s, rm, rv, dg, db = t [| ch |], t [| ch |], t [| ch |], t [| ch |], t [| ch |], t [| ch |], t [| ch |], t [| ch |]
fill g; fill b; be.Fill(rv, 1.0f)
let act op = ActivationFunction(op)
let bnForward () =
    let mi = be.GetType().GetMethod("BatchNormTrainingForward")
    if isNull mi then
        (fun () ->
            be.BatchNormStatistics(x, batch, ch, plane, 0.1f, 1e-5f, rm, rv, m, s)
            be.BatchNormApply(x, batch, ch, plane, m, s, g, b, xhat, y))
    else
        let args = [| box x; box batch; box ch; box plane; box 0.1f; box 1e-5f; box rm; box rv; box m; box s; box g; box b; box xhat; box y |]
        (fun () -> mi.Invoke(be, args) |> ignore)
let dropout () =
    let mi = be.GetType().GetMethod("DropoutForward")
    let mutable rs = RandomStream(7UL, 1UL, 0UL)
    if isNull mi then (fun () -> be.DropoutMask(mask, 0.25f, &rs); be.Multiply(x, mask, y))
    else (let args = [| box x; box mask; box 0.25f; box rs; box y |] in fun () -> mi.Invoke(be, args) |> ignore)
let cases : (string * (unit -> unit)) list =
    [ for op in [ ActivationOp.Relu; ActivationOp.Swish; ActivationOp.Elu; ActivationOp.Sigmoid; ActivationOp.Tanh; ActivationOp.LeakyRelu ] do
        let f = ActivationFunction(op, 0.1f)
        yield $"{op}", (fun () -> be.Activate(f, x, y))
        yield $"{op} backward", (fun () -> be.ActivateBackward(f, x, y, dy, dx))
      yield "batchnorm training forward", bnForward ()
      yield "batchnorm backward", (fun () -> be.BatchNormBackward(dy, xhat, g, s, batch, ch, plane, true, dg, db, dx))
      yield "dropout mask+product", dropout () ]
let median (a: float[]) = (Array.sort a).[a.Length / 2]
for name, f in cases do
    f ()
    let a = Array.init 7 (fun _ -> let sw = Stopwatch.StartNew() in f (); sw.Elapsed.TotalMilliseconds * 1000.0)
    printfn "%s\t%.0f" name (median a)
