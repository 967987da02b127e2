namespace StreamServer.Cli;

internal static class CliVerbs
{
    public static Task<int> RunAsync(string verb, string[] args) => verb switch
    {
        "package" => PackageVerb.RunAsync(args),
        "trace" => TraceVerb.RunAsync(args),
        _ => Task.FromResult(2),
    };
}
