namespace StreamServer.Transcode.Live;

/// <summary>
/// Where a publisher's access units go (FLV timing: milliseconds, decode order): the pass-through
/// <see cref="LiveRemuxer"/> or the <see cref="LiveTranscoder"/> ladder. One publisher feeds it, from one thread.
/// </summary>
public interface ILiveIngest : IDisposable
{
    /// <summary>One H.264 access unit (AVCC: length-prefixed NAL units) at decode time <paramref name="dtsMs"/>.</summary>
    void WriteVideo(ReadOnlySpan<byte> accessUnit, long dtsMs, int compositionMs, bool keyframe);

    /// <summary>One raw AAC frame at <paramref name="ptsMs"/>.</summary>
    void WriteAudio(ReadOnlySpan<byte> frame, long ptsMs);

    /// <summary>The publisher stopped: the last segments are closed and the playlists end with EXT-X-ENDLIST.</summary>
    void Finish();
}
