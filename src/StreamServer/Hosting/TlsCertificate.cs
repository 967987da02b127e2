using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace StreamServer.Hosting;

/// <summary>The configured PFX, or a self-signed certificate generated once into DataDir/tls.</summary>
internal static class TlsCertificate
{
    public static X509Certificate2 LoadOrCreate(StreamServerOptions options, DataLayout layout)
    {
        if (!string.IsNullOrEmpty(options.CertificatePath))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(options.CertificatePath, options.CertificatePassword);
        }

        var dir = layout.Tls;
        var path = Path.Combine(dir, "server.pfx");
        if (File.Exists(path))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        }

        Directory.CreateDirectory(dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=StreamServer self-signed", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        san.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2));
        var pfx = cert.Export(X509ContentType.Pfx);
        // Write then rename so a crash never leaves a truncated certificate behind.
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, pfx);
        File.Move(tmp, path, overwrite: true);
        return X509CertificateLoader.LoadPkcs12(pfx, password: null);
    }
}
