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

        await using var server = await ServerProcess.StartAsync();
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
        using var strace = await StartStraceAsync(server.Pid, summaryFile);

        var before = tracer.Snapshot();
        const int requests = 150;
        long received = 0;
        for (var i = 0; i < requests; i++)
        {
            var bytes = await client.GetByteArrayAsync(i % 3 == 0 ? "/healthz" : body.Path);
            received += bytes.Length;
        }

        await Task.Delay(300); // the last exits run after the client already has the bytes
        var after = tracer.Snapshot();

        _ = await TestSupport.ProcessRunner.RunAsync("kill", ["-INT", strace.Id.ToString(CultureInfo.InvariantCulture)]);
        await strace.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
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

    private static async Task<Process> StartStraceAsync(int pid, string summaryFile)
    {
        var psi = new ProcessStartInfo("strace")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-c", "-f", "-o", summaryFile, "-e", "trace=sendto,sendmsg,writev,sendfile", "-p", pid.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        var strace = Process.Start(psi) ?? throw new InvalidOperationException("cannot start strace");
        var attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new StringBuilder();
        strace.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                attached.TrySetException(new InvalidOperationException("strace ended: " + stderr));
                return;
            }

            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            // "strace: Process 123 attached with 25 threads"
            if (e.Data.Contains("attached", StringComparison.Ordinal))
            {
                attached.TrySetResult();
            }
        };
        strace.BeginErrorReadLine();
        await attached.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await Task.Delay(200); // every thread seized
        return strace;
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
