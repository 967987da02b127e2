namespace StreamServer.Live;

/// <summary>Live channels (section "StreamServer:Live").</summary>
public sealed class LiveOptions
{
    /// <summary>Channels publishers may push to: name, stream key, mode.</summary>
    public LiveChannelConfig[] Channels { get; set; } = [];

    /// <summary>Target segment length: a segment ends at the first keyframe after it (so at least one GOP).</summary>
    public double SegmentSeconds { get; set; } = 2;

    /// <summary>Segments in the sliding-window media playlists.</summary>
    public int WindowSegments { get; set; } = 6;

    /// <summary>A publisher that sends nothing for this long is disconnected and its publish ends.</summary>
    public int IngestIdleTimeoutSeconds { get; set; } = 30;
}

public sealed class LiveChannelConfig
{
    /// <summary>Channel name: the last part of the RTMP URL and of /live/{name}/ (A-Z a-z 0-9 _ -, 1-64).</summary>
    public string Name { get; set; } = "";

    /// <summary>Stream key the publisher must give (?key=...).</summary>
    public string Key { get; set; } = "";

    /// <summary>"passthrough" (remux, no re-encode) or "transcode" (the VOD ladder).</summary>
    public string Mode { get; set; } = "passthrough";
}
