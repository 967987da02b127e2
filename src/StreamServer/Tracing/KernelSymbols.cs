using System.Globalization;

namespace StreamServer.Tracing;

/// <summary>
/// Code ranges of kernel functions from /proc/kallsyms (a function ends where the next symbol starts).
/// Addresses read as 0 without CAP_SYSLOG / with kptr_restrict; the caller then falls back to cache names.
/// </summary>
internal static class KernelSymbols
{
    /// <summary>Functions that take sk_buff heads or small data heads straight from the skb slab caches.</summary>
    public static readonly string[] SkbAllocators =
        ["__alloc_skb", "skb_clone", "kmalloc_reserve", "__build_skb", "build_skb", "napi_skb_cache_get", "__napi_build_skb", "__alloc_skb_fclone"];

    public static List<(string Name, ulong Start, ulong End)> Ranges(IReadOnlyCollection<string> names, string path = "/proc/kallsyms")
    {
        var addresses = new List<ulong>(200_000);
        var wanted = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            // "ffffffff81e3f6a0 T __alloc_skb" (module symbols carry a trailing "[module]").
            var firstSpace = line.IndexOf(' ');
            if (firstSpace <= 0 || line.Length < firstSpace + 3)
            {
                continue;
            }

            var type = line[firstSpace + 1];
            if (type is not ('t' or 'T'))
            {
                continue;
            }

            if (!ulong.TryParse(line.AsSpan(0, firstSpace), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var address) || address == 0)
            {
                continue;
            }

            addresses.Add(address);
            var name = line.AsSpan(firstSpace + 3);
            var tab = name.IndexOf('\t');
            if (tab >= 0)
            {
                continue; // module symbol: skb allocators are built in
            }

            foreach (var n in names)
            {
                if (name.SequenceEqual(n))
                {
                    wanted.TryAdd(n, address);
                }
            }
        }

        addresses.Sort();
        var result = new List<(string, ulong, ulong)>();
        foreach (var (name, start) in wanted)
        {
            var i = addresses.BinarySearch(start);
            while (i >= 0 && i + 1 < addresses.Count && addresses[i + 1] == start)
            {
                i++;
            }

            var end = i >= 0 && i + 1 < addresses.Count ? addresses[i + 1] : start + 4096;
            result.Add((name, start, end));
        }

        return result;
    }

    /// <summary>Object size (bytes_alloc in kmem tracepoints) of a slab cache, from sysfs; 0 when unknown.</summary>
    public static ulong SlabSize(string cache)
    {
        try
        {
            return ulong.Parse(File.ReadAllText($"/sys/kernel/slab/{cache}/slab_size").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>Inode of a process's network namespace (what the kernel calls ns.inum).</summary>
    public static uint NetnsInode(string pid = "self")
    {
        var target = new FileInfo($"/proc/{pid}/ns/net").LinkTarget ?? ""; // "net:[4026531840]"
        var open = target.IndexOf('[');
        var close = target.IndexOf(']');
        return open >= 0 && close > open && uint.TryParse(target.AsSpan(open + 1, close - open - 1), CultureInfo.InvariantCulture, out var inode)
            ? inode
            : 0;
    }
}
