using System.Security.Cryptography;

namespace StreamServer.Tests.Http;

/// <summary>One response as it came off the wire (status, header fields, body).</summary>
public sealed class RawHttpResponse
{
    public required string Version { get; init; }
    public required int Status { get; init; }
    public required List<KeyValuePair<string, string>> Headers { get; init; }
    public required byte[] Body { get; init; }

    public string? Header(string name)
    {
        string? found = null;
        foreach (var h in Headers)
        {
            if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
            {
                found = found is null ? h.Value : found + ", " + h.Value;
            }
        }

        return found;
    }

    public string BodySha256 => Convert.ToHexString(SHA256.HashData(Body));

    public override string ToString() => $"{Version} {Status} [{string.Join("; ", Headers.Select(h => h.Key + ": " + h.Value))}] body={Body.Length}";
}
