namespace StreamServer.LoadTest.Stats;

/// <summary>One second of a player run: the progress row on the console and a point on the report's charts.</summary>
/// <param name="Second">Seconds since the run started, at the end of this interval.</param>
/// <param name="ServerRetransmits">The server's retransmitted TCP segments in this interval (from its /metrics), null when not scraped.</param>
internal sealed record IntervalSample(double Second, long Players, long Requests, long Bytes, long Errors, long Stalls,
    double SegmentP50Ms, double SegmentP99Ms, double SegmentP999Ms, double PlaylistP50Ms, double PlaylistP99Ms, double LiveLatencyMs,
    double? ServerRetransmits);
