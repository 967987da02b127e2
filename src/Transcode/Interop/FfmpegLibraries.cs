using System.Reflection;
using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Interop;

/// <summary>
/// Start-up check of the FFmpeg libraries this build was written against (Debian 12's FFmpeg 5.1).
/// Names every library that is missing or has another major version, and whether the shim was built.
/// </summary>
public static class FfmpegLibraries
{
    private static readonly (string Name, string Soname, int Major)[] Expected =
    [
        ("libavformat", "libavformat.so.59", 59),
        ("libavcodec", "libavcodec.so.59", 59),
        ("libavutil", "libavutil.so.57", 57),
        ("libswscale", "libswscale.so.6", 6),
        ("libswresample", "libswresample.so.4", 4),
        ("libavfilter", "libavfilter.so.8", 8),
    ];

    private static readonly Lock Gate = new();
    private static bool checkedOk;

    /// <summary>Versions found at run time as "libavformat 59.27.100, ...".</summary>
    public static string Describe { get; private set; } = "";

    /// <summary>Throws <see cref="TranscodeException"/> naming what is missing or mismatched; cheap after the first success.</summary>
    public static unsafe void EnsureCompatible()
    {
        lock (Gate)
        {
            if (checkedOk)
            {
                return;
            }

            var problems = new List<string>();
            foreach (var (name, soname, _) in Expected)
            {
                if (!NativeLibrary.TryLoad(soname, out _))
                {
                    problems.Add($"{soname} not found (install {name}{SonameSuffix(soname)} / the ffmpeg 5.1 libraries)");
                }
            }

            if (problems.Count > 0)
            {
                throw new TranscodeException("FFmpeg libraries missing: " + string.Join("; ", problems));
            }

            if (!NativeLibrary.TryLoad(SsAv.Library, typeof(FfmpegLibraries).Assembly, DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.SafeDirectories, out _))
            {
                throw new TranscodeException(
                    $"libssav.so (the FFmpeg shim) not found next to {Path.GetFileName(typeof(FfmpegLibraries).Assembly.Location)}: run `make -C src/Transcode/Native` (needs gcc, pkg-config and the libav*-dev packages)");
            }

            uint* v = stackalloc uint[6];
            SsAv.Versions(v);
            var found = new List<string>();
            for (var i = 0; i < Expected.Length; i++)
            {
                var major = (int)(v[i] >> 16);
                var text = $"{Expected[i].Name} {major}.{(v[i] >> 8) & 0xff}.{v[i] & 0xff}";
                found.Add(text);
                if (major != Expected[i].Major)
                {
                    problems.Add($"{Expected[i].Name} major {major}, expected {Expected[i].Major}");
                }
            }

            Describe = string.Join(", ", found);
            if (problems.Count > 0)
            {
                throw new TranscodeException("FFmpeg version mismatch: " + string.Join("; ", problems) + " (built for FFmpeg 5.1)");
            }

            // FFmpeg's own log lines would interleave with our one-line errors: nothing is printed; the last error line
            // of a thread goes into the exception of the call that failed on it (FfmpegError.Check).
            SsAv.CaptureErrors();
            checkedOk = true;
        }
    }

    private static string SonameSuffix(string soname)
    {
        var i = soname.IndexOf(".so.", StringComparison.Ordinal);
        return soname[(i + 4)..];
    }

    internal static Assembly Assembly => typeof(FfmpegLibraries).Assembly;
}
