namespace StreamServer.Transport;

/// <summary>
/// Process-wide settings of .NET's socket engine that must be in place before the first socket exists.
/// </summary>
internal static class SocketEngineSettings
{
    private const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Runs socket completions on the epoll threads (one per core) instead of queueing each to the thread
    /// pool: the event-loop shape nginx has. Measured on the segment and playlist benchmarks (bench/profile-serve.sh):
    /// CPU per 1 MiB segment -13 %, per playlist -26 %, context switches per request down 3-5x. The runtime reads
    /// the switch once, when its socket engine starts, so this only takes effect if no socket was created
    /// yet (true when the server is the process; not in a test host that already used sockets). An explicit
    /// environment setting wins.
    /// </summary>
    public static void Apply(bool inlineCompletions)
    {
        if (inlineCompletions && Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }
}
