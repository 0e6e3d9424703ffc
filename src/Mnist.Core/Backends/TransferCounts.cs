namespace Mnist.Core.Backends;

/// <summary>
/// Host transfers a backend has made so far: copies from host memory to the device
/// (<see cref="Uploads"/>), copies back (<see cref="Downloads"/>), and direct host views of
/// device storage (<see cref="HostViews"/>: the CPU's zero-copy Tensor.Span; other backends
/// have none). Subtract two snapshots to see what a piece of code moved.
/// </summary>
public readonly record struct TransferCounts(long Uploads, long UploadedBytes, long Downloads, long DownloadedBytes, long HostViews)
{
    public static TransferCounts operator -(TransferCounts a, TransferCounts b) =>
        new(a.Uploads - b.Uploads, a.UploadedBytes - b.UploadedBytes, a.Downloads - b.Downloads,
            a.DownloadedBytes - b.DownloadedBytes, a.HostViews - b.HostViews);

    public override string ToString() =>
        $"{Uploads} uploads ({UploadedBytes} bytes), {Downloads} downloads ({DownloadedBytes} bytes), {HostViews} host views";
}
