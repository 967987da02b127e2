namespace StreamServer.LoadTest.Stats;

/// <summary>What a request fetched; latencies are kept per kind because a playlist and a 1 MiB segment are different questions.</summary>
internal enum RequestKind
{
    Playlist,

    /// <summary>Media segments and init segments.</summary>
    Segment,

    /// <summary>LL-HLS parts.</summary>
    Part,

    Thumbnail,
}
