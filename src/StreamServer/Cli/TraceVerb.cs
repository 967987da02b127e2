namespace StreamServer.Cli;

/// <summary>`trace`: live retransmits and send-syscall stalls, like bcc's tcpretrans / funclatency.</summary>
internal static class TraceVerb
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        Console.Error.WriteLine("trace: not implemented yet");
        return Task.FromResult(1);
    }
}
