namespace StreamServer.Cli;

/// <summary>`package &lt;input&gt; --out &lt;dir&gt; [--ladder 720,480,360] [--preset veryfast] [--segment-seconds 4]`.</summary>
internal static class PackageVerb
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        Console.Error.WriteLine("package: not implemented yet");
        return Task.FromResult(1);
    }
}
