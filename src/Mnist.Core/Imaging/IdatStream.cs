namespace Mnist.Core.Imaging;

/// <summary>
/// The data of consecutive IDAT chunks read as one stream (the zlib stream is split across them
/// at arbitrary points), without copying it out of the file.
/// </summary>
internal sealed class IdatStream(ReadOnlyMemory<byte> file, IReadOnlyList<(int Offset, int Length)> segments) : Stream
{
    private int _segment;
    private int _offsetInSegment;

    public override int Read(Span<byte> buffer)
    {
        while (_segment < segments.Count)
        {
            var (offset, length) = segments[_segment];
            int available = length - _offsetInSegment;
            if (available > 0)
            {
                int n = Math.Min(available, buffer.Length);
                file.Span.Slice(offset + _offsetInSegment, n).CopyTo(buffer);
                _offsetInSegment += n;
                return n;
            }
            _segment++;
            _offsetInSegment = 0;
        }
        return 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
