using System.Buffers.Text;
using System.Text;

namespace StreamServer.Vod;

/// <summary>
/// The "Date: ...\r\n" header line, reformatted once a second by a timer (like Kestrel's
/// DateHeaderValueManager) so responses copy bytes instead of formatting, and IMF-fixdate parsing.
/// </summary>
internal static class HttpDate
{
    private static byte[] s_dateLine = Format(DateTime.UtcNow);
    private static readonly Timer Ticker = new(static _ => s_dateLine = Format(DateTime.UtcNow), null, 1000, 1000);

    /// <summary>"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" for the current second.</summary>
    public static ReadOnlySpan<byte> DateLine => Volatile.Read(ref s_dateLine);

    /// <summary>The current "Date" value as a string, for the Kestrel path's symmetry checks.</summary>
    public static bool Ticking => Ticker is not null;

    private static byte[] Format(DateTime now) => Encoding.ASCII.GetBytes($"Date: {now:R}\r\n");

    /// <summary>Parses an IMF-fixdate (RFC 9110 5.6.7); obsolete formats are ignored like a missing header.</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out DateTime utc)
    {
        value = value.Trim((byte)' ');
        if (Utf8Parser.TryParse(value, out DateTime parsed, out var consumed, 'R') && consumed == value.Length)
        {
            utc = DateTime.SpecifyKind(parsed, DateTimeKind.Utc);
            return true;
        }

        utc = default;
        return false;
    }
}
