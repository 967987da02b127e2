using System.Globalization;
using System.Text.RegularExpressions;

namespace StreamServer.Tests.Tracing;

/// <summary>
/// The kernel's own record of every tcp_retransmit_skb / tcp_retransmit_synack hit on one port, through a
/// private ftrace instance (tracefs instances/, with the task's tgid recorded). ftrace runs where BPF
/// programs are not allowed to (kernels that skip BPF while a PID 1 thread is current), so it tells
/// the test which retransmits the tracer could not see. Removed on dispose.
/// </summary>
internal sealed partial class RetransmitFtrace : IDisposable
{
    private const string Tracefs = "/sys/kernel/tracing";
    private static readonly string[] Events = ["tcp_retransmit_skb", "tcp_retransmit_synack"];
    private readonly string _dir;

    private RetransmitFtrace(string dir) => _dir = dir;

    /// <summary>Retransmit attempts on the port (SYN-ACKs included), whoever was current.</summary>
    public int Hits { get; private set; }

    /// <summary>Of <see cref="Hits"/>: those made while a thread of PID 1 was the current task.</summary>
    public int HitsInPid1 { get; private set; }

    /// <summary>Of <see cref="HitsInPid1"/>: those the kernel counted in TcpRetransSegs (not an early-exit error).</summary>
    public int CountedInPid1 { get; private set; }

    /// <summary>The first few PID 1 trace lines as ftrace wrote them (event, flow, state), for failure messages.</summary>
    public List<string> Pid1Lines { get; } = [];

    public static RetransmitFtrace Start(int port)
    {
        var dir = Path.Combine(Tracefs, "instances", $"ss-test-{Guid.NewGuid().ToString("N")[..10]}");
        Directory.CreateDirectory(dir);
        var trace = new RetransmitFtrace(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "buffer_size_kb"), "2048");
            File.WriteAllText(Path.Combine(dir, "options", "record-tgid"), "1");
            var p = port.ToString(CultureInfo.InvariantCulture);
            foreach (var e in Events)
            {
                File.WriteAllText(Path.Combine(dir, "events", "tcp", e, "filter"), $"sport == {p} || dport == {p}");
                File.WriteAllText(Path.Combine(dir, "events", "tcp", e, "enable"), "1");
            }
        }
        catch
        {
            trace.Dispose();
            throw;
        }

        return trace;
    }

    /// <summary>Stops recording and counts what was recorded.</summary>
    public void Stop()
    {
        foreach (var e in Events)
        {
            File.WriteAllText(Path.Combine(_dir, "events", "tcp", e, "enable"), "0");
        }

        foreach (var line in File.ReadLines(Path.Combine(_dir, "trace")))
        {
            var m = TraceLine().Match(line);
            if (!m.Success)
            {
                continue;
            }

            Hits++;
            if (Tgid(m) != 1)
            {
                continue;
            }

            HitsInPid1++;
            if (Pid1Lines.Count < 8)
            {
                Pid1Lines.Add(line.Trim());
            }

            // The same early exits the tracer treats as "not sent" (-EBUSY, -EAGAIN, -EINVAL, -ENOMEM, -EHOSTUNREACH).
            var err = m.Groups["err"].Success ? int.Parse(m.Groups["err"].Value, CultureInfo.InvariantCulture) : 0;
            if (err is not (-16 or -11 or -22 or -12 or -113))
            {
                CountedInPid1++;
            }
        }
    }

    private static int Tgid(Match m)
    {
        if (int.TryParse(m.Groups["tgid"].Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var tgid))
        {
            return tgid;
        }

        // "(-------)": ftrace had no tgid for the thread; it is still alive if it is one of PID 1's.
        return Directory.Exists($"/proc/1/task/{m.Groups["tid"].Value}") ? 1 : -1;
    }

    public void Dispose()
    {
        try
        {
            foreach (var e in Events)
            {
                File.WriteAllText(Path.Combine(_dir, "events", "tcp", e, "enable"), "0");
            }

            Directory.Delete(_dir);
        }
        catch (IOException)
        {
            // Best effort: an instance left behind costs a little memory, nothing else.
        }
    }

    // "  <comm>-<tid> (<tgid>) [cpu] flags  ts: tcp_retransmit_skb: ... err=-11"
    [GeneratedRegex(@"^\s*.+-(?<tid>\d+)\s+\((?<tgid>[\s\d-]+)\)\s+\[\d+\].*?: tcp_retransmit_(?:skb|synack):.*?(?:\berr=(?<err>-?\d+))?\s*$")]
    private static partial Regex TraceLine();
}
