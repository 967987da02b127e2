namespace StreamServer.LoadTest.Players;

internal enum Pace
{
    /// <summary>Like a viewer: keep a forward buffer, fetch only when it runs low, count rebuffering stalls.</summary>
    Realtime,

    /// <summary>Like a CDN filling its cache: segments back to back.</summary>
    Max,
}

/// <summary>How every player of a run behaves.</summary>
/// <param name="Url">The master playlist.</param>
/// <param name="BufferSeconds">Forward buffer a realtime VOD player keeps.</param>
/// <param name="StartSeconds">Media needed before playback starts (and restarts after a stall).</param>
/// <param name="CapBitsPerSecond">Per-player download cap; 0 = none.</param>
/// <param name="Delta">ll-hls: blocking reloads ask for the delta form (_HLS_skip=YES).</param>
/// <param name="Validate">live, ll-hls: every media playlist a player receives goes through <see cref="LowLatencyHlsValidator"/>.</param>
internal sealed record PlayerOptions(Uri Url, Pace Pace, Version HttpVersion, double BufferSeconds, double StartSeconds, bool Abr,
    double CapBitsPerSecond, bool Delta = false, bool Validate = false);

/// <summary>One viewer session of a scenario; the swarm starts it again as a new viewer when it returns before its time is up.</summary>
internal interface IPlayer
{
    Task WatchAsync(CancellationToken ct);
}
