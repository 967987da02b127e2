namespace StreamServer.Live;

/// <summary>Live channels (section "StreamServer:Live").</summary>
public sealed class LiveOptions
{
    /// <summary>Channels publishers may push to: name, stream key, mode.</summary>
    public LiveChannelConfig[] Channels { get; set; } = [];

    /// <summary>
    /// The built-in channel "test" (/live/test/master.m3u8): a test pattern with the wall clock burnt in and a tone,
    /// generated and encoded in-process, so live can be watched with no publisher.
    /// </summary>
    public bool TestChannel { get; set; } = true;

    /// <summary>Target segment length: a segment ends at the first keyframe after it (so at least one GOP).</summary>
    public double SegmentSeconds { get; set; } = 1;

    /// <summary>
    /// LL-HLS part length in seconds (EXT-X-PART, PART-TARGET), 0.2-1; 0 = no parts (legacy HLS only). Decided per publish
    /// from its first GOP: this length in whole frames when it divides the GOP, else the GOP's divisor between 0.2 s and
    /// 1 s closest to it; it never changes within the publish. Audio parts end with the video's.
    /// </summary>
    public double PartSeconds { get; set; } = 0.2;

    /// <summary>
    /// How LL-HLS parts are addressed unless a channel says otherwise: "byterange" (EXT-X-PART BYTERANGE into the segment,
    /// which is read from the buffer pool while it grows: each byte stored once) or "files" (part_N_I.m4s of their own).
    /// </summary>
    public string Parts { get; set; } = "byterange";

    /// <summary>Segments in the sliding-window media playlists.</summary>
    public int WindowSegments { get; set; } = 6;

    /// <summary>
    /// DVR depth: segments are kept and listed this many seconds behind the live edge (players can seek back; the MPD's
    /// timeShiftBufferDepth) when that is more than <see cref="WindowSegments"/>. 0 = the window only.
    /// </summary>
    public double DvrSeconds { get; set; }

    /// <summary>
    /// Keep every publish as a VOD: when the publisher stops, its segments become <c>/vod/{channel}-{yyyyMMdd-HHmmss}/</c>
    /// (UTC start of the publish) in the library. Off by default: it fills the disk at the publish's bitrate.
    /// </summary>
    public bool Record { get; set; }

    /// <summary>
    /// Rung heights of channels in mode "transcode" (rungs above the publish's height are dropped). Empty = the VOD ladder
    /// (Packaging:Ladder); bitrates, preset and encoder threads are the VOD's.
    /// </summary>
    public int[] Ladder { get; set; } = [];

    /// <summary>A publisher that sends nothing for this long is disconnected and its publish ends.</summary>
    public int IngestIdleTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// After the ingest loop wakes for fewer than 8 ready publishers it waits this long for more before reading, so one
    /// wake-up serves several (as a NIC coalesces interrupts): each message reaches the remux at most this much later,
    /// and at 50 channels the loop wakes ~4x less often. 0 = read at once.
    /// </summary>
    public int IngestCoalesceMilliseconds { get; set; } = 5;

    /// <summary>Where the live windows are kept (see <see cref="DataLayout.LiveWindows"/>); empty = on tmpfs.</summary>
    public string WindowDirectory { get; set; } = "";
}

public sealed class LiveChannelConfig
{
    /// <summary>Channel name: the last part of the RTMP URL and of /live/{name}/ (A-Z a-z 0-9 _ -, 1-64).</summary>
    public string Name { get; set; } = "";

    /// <summary>Stream key the publisher must give (?key=...).</summary>
    public string Key { get; set; } = "";

    /// <summary>"passthrough" (remux, no re-encode) or "transcode" (the VOD ladder).</summary>
    public string Mode { get; set; } = "passthrough";

    /// <summary>LL-HLS part addressing, "byterange" or "files"; empty = the server's <see cref="LiveOptions.Parts"/>.</summary>
    public string Parts { get; set; } = "";

    /// <summary>LL-HLS part length of this channel (0.2-1 s); 0 = the server's <see cref="LiveOptions.PartSeconds"/>.</summary>
    public double PartSeconds { get; set; }

    /// <summary>DVR depth of this channel in seconds; 0 = the server's <see cref="LiveOptions.DvrSeconds"/>.</summary>
    public double DvrSeconds { get; set; }

    /// <summary>Whether this channel's publishes become VODs; unset = the server's <see cref="LiveOptions.Record"/>.</summary>
    public bool? Record { get; set; }

    /// <summary>Why a part length cannot be used (0 = no parts, else 0.2-1 s), or null.</summary>
    public static string? PartSecondsError(double seconds) =>
        seconds == 0 || seconds is >= 0.2 and <= 1 ? null : "part length must be 0 (no parts) or 0.2-1 s";

    /// <summary>Why a mode cannot be used, or null.</summary>
    public static string? ModeError(string mode) =>
        mode is "passthrough" or "transcode" ? null : "mode must be \"passthrough\" or \"transcode\"";

    /// <summary>Why a part addressing cannot be used, or null.</summary>
    public static string? PartsError(string parts) =>
        parts is "byterange" or "files" ? null : "parts must be \"byterange\" or \"files\"";
}
