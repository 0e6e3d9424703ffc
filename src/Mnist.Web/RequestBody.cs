using System.Buffers;
using Microsoft.AspNetCore.Http;

namespace Mnist.Web;

/// <summary>
/// Reads a request body whole, refusing it (413) as soon as it is known to exceed the limit: from
/// Content-Length before anything is read, else once one byte too many has arrived. The check is
/// ours, not only Kestrel's, so every host (the test server included) answers the same way.
/// </summary>
public static class RequestBody
{
    public static async Task<byte[]> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancel)
    {
        if (request.ContentLength is long declared && declared > maxBytes) throw TooLarge(maxBytes);
        int capacity = request.ContentLength is long n ? (int)n : 16 * 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 1024));
        try
        {
            int length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(maxBytes + 1, buffer.Length * 2L));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                int read = await request.Body.ReadAsync(buffer.AsMemory(length), cancel);
                if (read == 0) break;
                length += read;
                if (length > maxBytes) throw TooLarge(maxBytes);
            }
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ApiException TooLarge(long maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, ApiErrorCode.BodyTooLarge, $"the request body is larger than the limit of {maxBytes} bytes");
}
