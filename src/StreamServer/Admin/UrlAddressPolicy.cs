using System.Net;
using System.Net.Sockets;

namespace StreamServer.Admin;

/// <summary>
/// Which addresses a URL source may be fetched from: by default none that points back into the server's own networks
/// (loopback, private, link-local incl. cloud metadata, carrier-grade NAT, multicast, unspecified, reserved; IPv6 forms
/// too, and IPv4 addresses inside IPv4-mapped, -compatible and NAT64 IPv6 addresses). StreamServer:UrlSourceAllowedHosts
/// lets named hosts (exact, case-insensitive) or ranges ("10.1.0.0/16", "fd00::/8") through. Checked on the address
/// actually connected to, so redirects and DNS answers that change between check and use cannot get around it.
/// </summary>
public sealed class UrlAddressPolicy
{
    private static readonly (IPNetwork Range, string Kind)[] Internal =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local (cloud metadata)"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private"),
        (IPNetwork.Parse("198.18.0.0/15"), "a benchmarking"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved"),
        (IPNetwork.Parse("::/128"), "an unspecified"),
        (IPNetwork.Parse("::1/128"), "a loopback"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local"),
        (IPNetwork.Parse("fe80::/10"), "a link-local"),
        (IPNetwork.Parse("fec0::/10"), "a site-local"),
        (IPNetwork.Parse("ff00::/8"), "a multicast"),
        (IPNetwork.Parse("100::/64"), "a discard-only"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork Ipv4Compatible = IPNetwork.Parse("::/96");

    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<IPNetwork> _ranges = [];

    public UrlAddressPolicy(IEnumerable<string> allowed)
    {
        foreach (var entry in allowed)
        {
            var e = entry.Trim();
            if (e.Length == 0)
            {
                continue;
            }

            if (IPNetwork.TryParse(e, out var range))
            {
                _ranges.Add(range);
            }
            else if (IPAddress.TryParse(e, out var single))
            {
                _ranges.Add(new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                _hosts.Add(e.TrimEnd('.'));
            }
        }
    }

    /// <summary>True when the operator named this host: every address it resolves to may be used.</summary>
    public bool IsAllowedHost(string host) => _hosts.Contains(host.TrimEnd('.'));

    /// <summary>Null when <paramref name="address"/> may be connected to, else what kind of address it is.</summary>
    public string? Refusal(IPAddress address)
    {
        foreach (var range in _ranges)
        {
            if (range.Contains(address) || (address.IsIPv4MappedToIPv6 && range.Contains(address.MapToIPv4())))
            {
                return null;
            }
        }

        var v4 = Embedded(address);
        if (!ReferenceEquals(v4, address))
        {
            return Refusal(v4);
        }

        foreach (var (range, kind) in Internal)
        {
            if (range.Contains(address))
            {
                return kind;
            }
        }

        return null;
    }

    // The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), else the address itself.
    private static IPAddress Embedded(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (Nat64.Contains(address) || (Ipv4Compatible.Contains(address) && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback)))
        {
            var bytes = address.GetAddressBytes();
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return address;
    }
}
