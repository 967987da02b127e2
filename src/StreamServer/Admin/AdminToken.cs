using System.Security.Cryptography;
using System.Text;
using StreamServer.Hosting;

namespace StreamServer.Admin;

/// <summary>The bearer token for /api: configured, or generated once into DataDir/admin-token (0600).</summary>
public sealed class AdminToken
{
    private readonly byte[] _expected;

    public AdminToken(StreamServerOptions options, DataLayout layout)
    {
        Generated = false;
        if (!string.IsNullOrEmpty(options.AdminToken))
        {
            Value = options.AdminToken;
        }
        else
        {
            var path = layout.AdminTokenFile;
            StoredAt = path;
            if (File.Exists(path))
            {
                Value = File.ReadAllText(path).Trim();
            }
            else
            {
                Value = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
                var tmp = path + ".tmp";
                File.WriteAllText(tmp, Value + "\n");
                File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                File.Move(tmp, path, overwrite: true);
                Generated = true;
            }
        }

        _expected = Encoding.UTF8.GetBytes(Value);
    }

    public string Value { get; }

    /// <summary>True when this start created the token.</summary>
    public bool Generated { get; }

    /// <summary>The file holding the token (0600), or null when it comes from configuration. The banner names this, never the token.</summary>
    public string? StoredAt { get; }

    /// <summary>Checks an Authorization header value ("Bearer &lt;token&gt;") in constant time.</summary>
    public bool Accepts(string? authorization)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presented = Encoding.UTF8.GetBytes(authorization.AsSpan(scheme.Length).Trim().ToString());
        return CryptographicOperations.FixedTimeEquals(presented, _expected);
    }
}
