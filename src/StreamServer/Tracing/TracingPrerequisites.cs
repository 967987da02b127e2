using System.Globalization;
using System.Runtime.InteropServices;
using StreamServer.Interop;

namespace StreamServer.Tracing;

/// <summary>
/// Why the tracers cannot run here, or null when they can: Linux, libbpf.so.1, kernel BTF, BPF rights
/// (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN), tracefs (mounted here when missing and we may), objects built.
/// </summary>
public static partial class TracingPrerequisites
{
    private const string TracefsPath = "/sys/kernel/tracing";
    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;

    public static string? Check(TracingOptions options, out string objectDirectory)
    {
        objectDirectory = "";
        if (!OperatingSystem.IsLinux())
        {
            return "eBPF tracers need Linux";
        }

        if (!NativeLibrary.TryLoad(LibBpf.Library, out var lib))
        {
            return "libbpf.so.1 not found (apt install libbpf1)";
        }

        NativeLibrary.Free(lib);
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
        {
            return "no kernel BTF (/sys/kernel/btf/vmlinux missing: kernel built without CONFIG_DEBUG_INFO_BTF)";
        }

        var caps = EffectiveCapabilities();
        var hasBpf = (Has(caps, CapBpf) && Has(caps, CapPerfmon)) || Has(caps, CapSysAdmin);
        if (!hasBpf)
        {
            return "no CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN): run as root or grant the capabilities";
        }

        var tracefs = EnsureTracefs();
        if (tracefs is not null)
        {
            return tracefs;
        }

        var dir = FindObjectDirectory(options.ObjectDirectory);
        if (dir is null)
        {
            return string.IsNullOrEmpty(options.ObjectDirectory)
                ? "eBPF objects not built (bpf/.output/*.bpf.o missing: run `make -C bpf`)"
                : $"eBPF objects not found in '{options.ObjectDirectory}' (Tracing:ObjectDirectory)";
        }

        objectDirectory = dir;
        return null;
    }

    /// <summary>The configured folder, else bpf/ next to the binary, else bpf/.output above the binary or the working directory.</summary>
    public static string? FindObjectDirectory(string configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return HasObjects(configured) ? Path.GetFullPath(configured) : null;
        }

        var nextToBinary = Path.Combine(AppContext.BaseDirectory, "bpf");
        if (HasObjects(nextToBinary))
        {
            return nextToBinary;
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bpf", ".output");
                if (HasObjects(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static bool HasObjects(string dir) =>
        File.Exists(Path.Combine(dir, "retrans.bpf.o")) && File.Exists(Path.Combine(dir, "skballoc.bpf.o")) &&
        File.Exists(Path.Combine(dir, "sendlat.bpf.o"));

    private static bool Has(ulong caps, int cap) => (caps & (1UL << cap)) != 0;

    private static ulong EffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>libbpf finds tracepoint ids under tracefs; mount it when it is not (as root we may).</summary>
    private static string? EnsureTracefs()
    {
        if (Directory.Exists(Path.Combine(TracefsPath, "events")) || Directory.Exists("/sys/kernel/debug/tracing/events"))
        {
            return null;
        }

        if (Libc.mount("tracefs", TracefsPath, "tracefs", 0, 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return $"tracefs not mounted at {TracefsPath} and mounting it failed: {Marshal.GetPInvokeErrorMessage(errno)}";
        }

        return Directory.Exists(Path.Combine(TracefsPath, "events")) ? null : $"tracefs at {TracefsPath} has no events/";
    }
}
