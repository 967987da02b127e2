namespace StreamServer.Transcode.Tests.Media;

/// <summary>
/// Tests that assert exact values of the process-wide frame copy counters. Not parallel: sprite sheets and posters
/// built by other tests add to the copy counter, and would make "stays 0" or "grows by exactly N" flaky.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FrameCopyMetricsCollection
{
    public const string Name = "frame copy metrics";
}
