namespace Mnist.Tests

#nowarn "9" // a native buffer behind the span

open System
open System.Runtime.InteropServices
open Microsoft.FSharp.NativeInterop

module private Libc =
    [<DllImport("libc", SetLastError = true)>]
    extern nativeint mmap(nativeint addr, unativeint length, int prot, int flags, int fd, nativeint offset)

    [<DllImport("libc", SetLastError = true)>]
    extern int mprotect(nativeint addr, unativeint length, int prot)

    [<DllImport("libc", SetLastError = true)>]
    extern int munmap(nativeint addr, unativeint length)

/// n floats between two inaccessible pages (Linux), flush against the one after them (or, with
/// atStart, the one before): a kernel that reads or writes one float past either end faults.
type GuardedFloats(n: int, atStart: bool) =
    let page = Environment.SystemPageSize
    let dataBytes = (max 1 (n * 4) + page - 1) / page * page
    let total = unativeint (dataBytes + 2 * page)
    let mapping = Libc.mmap (0n, total, 3 (* read, write *), 0x22 (* private, anonymous *), -1, 0n)
    do
        if mapping = -1n then failwith $"mmap failed ({Marshal.GetLastWin32Error()})"
        if Libc.mprotect (mapping, unativeint page, 0) <> 0
           || Libc.mprotect (mapping + nativeint (page + dataBytes), unativeint page, 0) <> 0 then
            failwith $"mprotect failed ({Marshal.GetLastWin32Error()})"
    let start = if atStart then mapping + nativeint page else mapping + nativeint (page + dataBytes - n * 4)

    new(n) = new GuardedFloats(n, false)

    member _.Span = Span<float32>(NativePtr.toVoidPtr (NativePtr.ofNativeInt<float32> start), n)

    interface IDisposable with
        member _.Dispose() = Libc.munmap (mapping, total) |> ignore
