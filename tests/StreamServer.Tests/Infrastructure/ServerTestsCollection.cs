namespace StreamServer.Tests.Infrastructure;

/// <summary>Tests that start servers or measure the process run one at a time (2-core CI).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerTestsCollection
{
    public const string Name = "server";
}
