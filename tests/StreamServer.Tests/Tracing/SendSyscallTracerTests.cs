using System.Diagnostics;
using System.Globalization;
using System.Text;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tracing;

namespace StreamServer.Tests.Tracing;

/// <summary>
/// Send-syscall counts per syscall against `strace -c -f -p` on the same server process and the same
/// requests. Tolerance: 1% + 2 calls per syscall (strace counts a call interrupted and restarted under
/// ptrace twice; the tracer counts completed enter/exit pairs). write(2) is left out: strace counts
/// every write, the tracer only writes to sockets.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public class SendSyscallTracerTests
{
    private static readonly string[] Compared = ["sendto", "sendmsg", "writev", "sendfile"];

    [Fact]
    public async Task SendSyscallCountsMatchStrace()
    {
        var missing = TracingEnvironment.MissingBpf(out var objects) ?? TestSupport.Capabilities.MissingTool("strace", "curl");
        Assert.SkipWhen(missing is not null, missing ?? "");

        await using var server = await RunningServer.StartProcessAsync();
        var sha = LargeBody.Plant(server.DataDir);
        await server.WaitForTracersAsync(TimeSpan.FromSeconds(30));
        var body = await LargeBody.ChooseAsync(server, sha);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}") };
        for (var i = 0; i < 5; i++)
        {
            (await client.GetAsync(body.Path)).EnsureSuccessStatusCode(); // JIT and connection warm-up
        }

        using var tracer = KernelTracers.Start(new TracerConfig
        {
            ObjectDirectory = objects,
            TargetTgid = server.Pid,
            Retransmits = false,
            SkbAllocations = false,
            StallThresholdNs = ulong.MaxValue,
        });
        using var summary = new TestSupport.TempDir("ss-strace");
        var summaryFile = summary.Combine("strace.txt");
        var (attached, failure) = await StraceAttachment.AttachAsync(server.Pid, "-c", "-o", summaryFile, "-e", "trace=sendto,sendmsg,writev,sendfile");
        using var strace = attached ?? throw new InvalidOperationException("strace cannot attach: " + failure);

        var before = tracer.Snapshot();
        const int requests = 150;
        long received = 0;
        for (var i = 0; i < requests; i++)
        {
            var bytes = await client.GetByteArrayAsync(i % 3 == 0 ? "/healthz" : body.Path);
            received += bytes.Length;
        }

        // The last exits run after the client already has the bytes: wait until the tracer's count stops moving.
        await TestSupport.Eventually.SettledAsync(() => Task.FromResult((long)tracer.Snapshot().SendBytesTotal), 0, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10));
        var after = tracer.Snapshot();
        await strace.StopAsync();
        var straceCounts = ParseStraceSummary(await File.ReadAllTextAsync(summaryFile));

        var report = new StringBuilder($"body {body.Path}, {received} bytes received\n");
        ulong total = 0;
        foreach (var name in Compared)
        {
            var i = Array.IndexOf(TracerAbi.SyscallNames, name);
            var traced = (long)(after.Send[i].Calls - before.Send[i].Calls);
            var errors = (long)(after.Send[i].Errors - before.Send[i].Errors);
            total += (ulong)traced;
            var (calls, straceErrors) = straceCounts.GetValueOrDefault(name);
            report.AppendLine(CultureInfo.InvariantCulture, $"{name}: tracer {traced} ({errors} errors), strace {calls} ({straceErrors} errors)");
        }

        TestContext.Current.TestOutputHelper?.WriteLine(report.ToString());
        Assert.True(total >= requests, "fewer send syscalls than responses: " + report);
        foreach (var name in Compared)
        {
            var i = Array.IndexOf(TracerAbi.SyscallNames, name);
            var traced = (long)(after.Send[i].Calls - before.Send[i].Calls);
            var (calls, _) = straceCounts.GetValueOrDefault(name);
            Assert.True(Math.Abs(traced - calls) <= 2 + (calls / 100), report.ToString());
        }

        // Bytes: the server sent at least what the client received (headers on top).
        Assert.True((long)(after.SendBytesTotal - before.SendBytesTotal) >= received, report.ToString());
    }

    /// <summary>`strace -c` table: "% time seconds usecs/call calls [errors] syscall".</summary>
    private static Dictionary<string, (long Calls, long Errors)> ParseStraceSummary(string text)
    {
        var result = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 5 || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _) || parts[^1] == "total")
            {
                continue;
            }

            var calls = long.Parse(parts[3], CultureInfo.InvariantCulture);
            var errors = parts.Length >= 6 ? long.Parse(parts[4], CultureInfo.InvariantCulture) : 0;
            result[parts[^1]] = (calls, errors);
        }

        return result;
    }
}
