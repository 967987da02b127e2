using System.Buffers.Text;
using StreamServer.Vod;

namespace StreamServer.Http1;

/// <summary>Writes a file response's head into a caller buffer from precomputed per-file bytes.</summary>
internal static class Http1ResponseHead
{
    /// <summary>Longest head this writes besides the per-file common headers.</summary>
    public const int Overhead = 256;

    public static int Write(Span<byte> buffer, VodFile file, in VodResponsePlan plan, bool keepAlive, bool http10)
    {
        var w = new SpanWriter(buffer);
        w.Append(plan.Status switch
        {
            200 => "HTTP/1.1 200 OK\r\n"u8,
            206 => "HTTP/1.1 206 Partial Content\r\n"u8,
            304 => "HTTP/1.1 304 Not Modified\r\n"u8,
            412 => "HTTP/1.1 412 Precondition Failed\r\n"u8,
            _ => "HTTP/1.1 416 Range Not Satisfiable\r\n"u8,
        });
        if (plan.Status != 304)
        {
            w.Append("Content-Length: "u8);
            w.Append(plan.Count); // 0 for 412 and 416
            w.Append("\r\n"u8);
        }

        w.Append(HttpDate.DateLine);
        w.Append(file.CommonHeaderBytes);
        if (plan.Status == 206)
        {
            w.Append("Content-Range: bytes "u8);
            w.Append(plan.Offset);
            w.Append((byte)'-');
            w.Append(plan.Offset + plan.Count - 1);
            w.Append((byte)'/');
            w.Append(file.Length);
            w.Append("\r\n"u8);
        }
        else if (plan.Status == 416)
        {
            w.Append("Content-Range: bytes */"u8);
            w.Append(file.Length);
            w.Append("\r\n"u8);
        }

        return EndHead(ref w, keepAlive, http10);
    }

    /// <summary>Longest head <see cref="WriteOpenSegmentRange"/> writes.</summary>
    public const int OpenSegmentRangeBytes = 512;

    // What every open-segment range carries, from the same constants as a file's headers.
    private static readonly byte[] OpenSegmentHeaders = System.Text.Encoding.ASCII.GetBytes(
        $"Accept-Ranges: bytes\r\nCache-Control: {VodFile.CacheControl}\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: {VodFile.ExposeHeaders}\r\n");

    /// <summary>
    /// 206 for a byte range of a live segment still being written (an EXT-X-PART BYTERANGE): whole parts never change, so
    /// it is cached like the segment; its complete length is not known yet (<c>/*</c>).
    /// </summary>
    public static int WriteOpenSegmentRange(Span<byte> buffer, bool audio, long offset, long count, bool keepAlive, bool http10)
    {
        var w = new SpanWriter(buffer);
        w.Append("HTTP/1.1 206 Partial Content\r\nContent-Length: "u8);
        w.Append(count);
        w.Append("\r\n"u8);
        w.Append(HttpDate.DateLine);
        w.Append(audio ? "Content-Type: audio/mp4\r\n"u8 : "Content-Type: video/iso.segment\r\n"u8);
        w.Append(OpenSegmentHeaders);
        w.Append("Content-Range: bytes "u8);
        w.Append(offset);
        w.Append((byte)'-');
        w.Append(offset + count - 1);
        w.Append("/*\r\n"u8);
        return EndHead(ref w, keepAlive, http10);
    }

    // The Connection header when it is not HTTP/1.1's default, and the blank line.
    private static int EndHead(ref SpanWriter w, bool keepAlive, bool http10)
    {
        if (!keepAlive)
        {
            w.Append("Connection: close\r\n"u8);
        }
        else if (http10)
        {
            w.Append("Connection: keep-alive\r\n"u8);
        }

        w.Append("\r\n"u8);
        return w.Length;
    }

    /// <summary>Longest head <see cref="WriteRequestTimeout"/> writes.</summary>
    public const int RequestTimeoutBytes = 160;

    /// <summary>Kestrel's answer to RequestHeadersTimeout (BadHttpRequest 408): empty body, the connection closes.</summary>
    public static int WriteRequestTimeout(Span<byte> buffer)
    {
        var w = new SpanWriter(buffer);
        w.Append("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n"u8);
        w.Append(HttpDate.DateLine);
        w.Append("\r\n"u8);
        return w.Length;
    }

    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        public int Length;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_buffer[Length..]);
            Length += bytes.Length;
        }

        public void Append(byte b) => _buffer[Length++] = b;

        public void Append(long value)
        {
            Utf8Formatter.TryFormat(value, _buffer[Length..], out var n);
            Length += n;
        }
    }
}
