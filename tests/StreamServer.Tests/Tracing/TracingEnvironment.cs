using System.Globalization;
using StreamServer.TestSupport;
using StreamServer.Tracing;

namespace StreamServer.Tests.Tracing;

/// <summary>What the tracer tests need from the machine, and readers for the kernel's own counters.</summary>
internal static class TracingEnvironment
{
    /// <summary>Null when the tracers can run here; otherwise why not (the tests skip with it).</summary>
    public static string? MissingBpf(out string objectDirectory)
    {
        objectDirectory = "";
        if (!Capabilities.IsRoot)
        {
            return "eBPF tracer tests need root (CAP_BPF, tracefs, network namespaces)";
        }

        return TracingPrerequisites.Check(new TracingOptions(), out objectDirectory);
    }

    public static TracerConfig Config(string objectDirectory) => new() { ObjectDirectory = objectDirectory };

    /// <summary>Tcp RetransSegs from /proc/net/snmp as seen by a process in <paramref name="netns"/>.</summary>
    public static async Task<long> RetransSegsAsync(string netns)
    {
        var snmp = (await ProcessRunner.RunAsync("ip", ["netns", "exec", netns, "cat", "/proc/net/snmp"])).EnsureSuccess("cat /proc/net/snmp").StdOut;
        return SnmpValue(snmp, "Tcp", "RetransSegs");
    }

    /// <summary>TcpExt TCPRetransFail: retransmissions the kernel counted in RetransSegs whose transmit then failed.</summary>
    public static async Task<long> RetransFailAsync(string netns)
    {
        var netstat = (await ProcessRunner.RunAsync("ip", ["netns", "exec", netns, "cat", "/proc/net/netstat"])).EnsureSuccess("cat /proc/net/netstat").StdOut;
        return SnmpValue(netstat, "TcpExt", "TCPRetransFail");
    }

    public static long SnmpValue(string snmp, string section, string field)
    {
        var lines = snmp.Split('\n');
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith(section + ":", StringComparison.Ordinal) && lines[i + 1].StartsWith(section + ":", StringComparison.Ordinal))
            {
                var names = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var values = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var index = Array.IndexOf(names, field);
                return long.Parse(values[index], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"{section} {field} not in /proc/net/snmp");
    }

    /// <summary>active_objs of a cache in /proc/slabinfo, or null when the cache has no row (merged away).</summary>
    public static long? SlabActiveObjects(string cache)
    {
        foreach (var line in File.ReadLines("/proc/slabinfo"))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 2 && parts[0] == cache)
            {
                return long.Parse(parts[1], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>Sum of a Prometheus family's samples (all label sets) in a scrape.</summary>
    public static double MetricSum(string exposition, string family, string? labelFilter = null)
    {
        double total = 0;
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(family, StringComparison.Ordinal) || line.Length <= family.Length || (line[family.Length] != ' ' && line[family.Length] != '{'))
            {
                continue;
            }

            if (labelFilter is not null && !line.Contains(labelFilter, StringComparison.Ordinal))
            {
                continue;
            }

            total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        return total;
    }
}
