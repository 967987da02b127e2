namespace StreamServer.Cli;

/// <summary>The command-line verbs (the one list of them): `package` and `trace`; anything else runs the server.</summary>
internal static class CliVerbs
{
    /// <summary>The verb <paramref name="name"/> names, or null when it is not a verb (the arguments are the server's).</summary>
    public static Func<string[], Task<int>>? Find(string name) => name switch
    {
        "package" => PackageVerb.RunAsync,
        "trace" => TraceVerb.RunAsync,
        _ => null,
    };
}
