using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using StreamServer.BufferPool;
using StreamServer.Tests.Infrastructure;

namespace StreamServer.Tests.BufferPool;

[Collection(ServerTestsCollection.Name)]
public class BufferPoolServerTests
{
    [Fact]
    public async Task TheRunningServerHoldsItsPoolAsAMemfdOfTheConfiguredSize()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:BufferPoolMegabytes=32");
        var pool = server.Services.GetRequiredService<MemfdBufferPool>();

        var memfds = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = File.ResolveLinkTarget(fd, returnFinalTarget: false)?.FullName;
            }
            catch (IOException)
            {
                continue; // closed between listing and reading (another component's descriptor)
            }

            if (target is not null && target.StartsWith("/memfd:streamserver-bufferpool", StringComparison.Ordinal))
            {
                memfds.Add(fd);
            }
        }

        Assert.Contains($"/proc/self/fd/{pool.FileHandle.DangerousGetHandle()}", memfds);
        Assert.InRange(pool.CapacityBytes, (32L * 1024 * 1024) - 4096, 32L * 1024 * 1024);
        Assert.Equal(pool.CapacityBytes, RandomAccess.GetLength(pool.FileHandle));
    }

    [Fact]
    public async Task HealthzAndMetricsReportCapacityFreeAndLeasedBytes()
    {
        await using var server = await RunningServer.StartAsync(tls: false, extraArgs: "--StreamServer:BufferPoolMegabytes=16");
        var pool = server.Services.GetRequiredService<MemfdBufferPool>();
        using var held = pool.Rent(1024 * 1024);
        using var client = server.CreateHttpClient();

        using var health = JsonDocument.Parse(await client.GetStringAsync("/healthz"));
        var probe = health.RootElement.GetProperty("subsystems").GetProperty("bufferpool");
        Assert.Equal("ok", probe.GetProperty("status").GetString());
        var details = probe.GetProperty("details");
        Assert.Equal(pool.CapacityBytes, details.GetProperty("capacityBytes").GetInt64());
        Assert.Equal(held.BlockSize, details.GetProperty("leasedBytes").GetInt64());
        Assert.Equal(pool.CapacityBytes - held.BlockSize, details.GetProperty("freeBytes").GetInt64());

        var metrics = await client.GetStringAsync("/metrics");
        Assert.Contains($"streamserver_bufferpool_bytes{{state=\"leased\"}} {held.BlockSize}", metrics);
        Assert.Contains($"streamserver_bufferpool_bytes{{state=\"free\"}} {pool.CapacityBytes - held.BlockSize}", metrics);
        Assert.Contains("streamserver_bufferpool_allocations_total", metrics);
        Assert.Contains("# TYPE streamserver_bufferpool_lease_seconds histogram", metrics);
    }
}
