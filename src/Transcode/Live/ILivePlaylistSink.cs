namespace StreamServer.Transcode.Live;

/// <summary>
/// Where a live packager's playlists and manifest go. They are rewritten with every part (ten times a second per
/// channel at 0.2 s parts), so the server keeps each as text in memory and serves it from there instead of replacing a
/// file per part; segments and init segments are files. Called on the packager's thread.
/// </summary>
public interface ILivePlaylistSink
{
    /// <summary>
    /// Makes <paramref name="text"/> the content of <paramref name="name"/> ("master.m3u8", "video/index.m3u8"; relative
    /// to the stream's folder). The builder is the packager's, reused for the next version: copy what it holds.
    /// </summary>
    void Replace(string name, System.Text.StringBuilder text);

    /// <summary>Withdraws <paramref name="name"/> (a delta playlist that no longer skips anything); no-op when absent.</summary>
    void Remove(string name);
}
