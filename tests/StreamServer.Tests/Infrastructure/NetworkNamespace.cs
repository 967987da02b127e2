using StreamServer.TestSupport;

namespace StreamServer.Tests.Infrastructure;

/// <summary>A network namespace of our own (`ip netns add ss-test-*`, lo up), deleted on dispose.</summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static async Task<NetworkNamespace> CreateAsync(int mtu = 1500)
    {
        var ns = new NetworkNamespace($"ss-test-{Guid.NewGuid().ToString("N")[..10]}");
        (await ProcessRunner.RunAsync("ip", ["netns", "add", ns.Name])).EnsureSuccess("ip netns add");
        try
        {
            (await ProcessRunner.RunAsync("ip", ["-n", ns.Name, "link", "set", "lo", "up"])).EnsureSuccess("ip link set lo up");
            // Loopback's 64 KiB MTU would make every skb a single segment; 1500 gives real GSO skbs
            // (several MSS-sized segments each), which is what the segment counting must get right.
            (await ProcessRunner.RunAsync("ip", ["-n", ns.Name, "link", "set", "lo", "mtu", mtu.ToString(System.Globalization.CultureInfo.InvariantCulture)])).EnsureSuccess("ip link set mtu");
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }

        return ns;
    }

    public Task<ProcessResult> ExecAsync(IEnumerable<string> command, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("ip", ["netns", "exec", Name, .. command], timeout);

    /// <summary>
    /// Drops about one in <paramref name="oneIn"/> of the packets sent from <paramref name="sourcePort"/> (only its
    /// SYN-ACKs with <paramref name="synAckOnly"/>), on arrival.
    /// </summary>
    public async Task AddRandomDropAsync(int sourcePort, int oneIn = 20, bool synAckOnly = false)
    {
        // Input hook, not output: a drop in OUTPUT returns EPERM to the sending socket, which TCP treats as
        // a local failure and simply resends later (no retransmit); dropping on arrival is real loss.
        (await ExecAsync(["nft", "add", "table", "inet", "sstest"])).EnsureSuccess("nft add table");
        (await ExecAsync(["nft", "add", "chain", "inet", "sstest", "input", "{ type filter hook input priority 0; policy accept; }"])).EnsureSuccess("nft add chain");
        string[] synAck = synAckOnly ? ["tcp", "flags", "&", "(syn|ack)", "==", "syn|ack"] : [];
        (await ExecAsync(["nft", "add", "rule", "inet", "sstest", "input", "tcp", "sport", sourcePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            .. synAck, "numgen", "random", "mod", oneIn.ToString(System.Globalization.CultureInfo.InvariantCulture), "==", "0", "drop"])).EnsureSuccess("nft add rule");
    }

    public async Task RemoveDropsAsync() => (await ExecAsync(["nft", "delete", "table", "inet", "sstest"])).EnsureSuccess("nft delete table");

    /// <summary>Waits until no TCP connection in the namespace is anywhere but LISTEN / TIME_WAIT (nothing left to retransmit).</summary>
    public async Task WaitForQuietAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var ss = await ExecAsync(["ss", "-Htan", "state", "all", "exclude", "listening", "exclude", "time-wait"]);
            if (ss.ExitCode == 0 && string.IsNullOrWhiteSpace(ss.StdOut))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"connections in {Name} did not close");
    }

    /// <summary>The namespace's inode (the kernel's ns.inum), the tracers' netns filter.</summary>
    public async Task<uint> InodeAsync()
    {
        var result = (await ProcessRunner.RunAsync("stat", ["-L", "-c", "%i", $"/run/netns/{Name}"])).EnsureSuccess("stat netns");
        return uint.Parse(result.StdOut.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync() => await ProcessRunner.RunAsync("ip", ["netns", "del", Name]);
}
