using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// P/Invoke surface of the TurboJPEG 2.1 API (Debian libturbojpeg0: libturbojpeg.so.0). Only what the
/// thumbnail path needs: compress from planar YUV, size bounds, errors, and decompress for verification.
/// `unsigned long` is 64-bit on Linux x64, hence CULong.
/// </summary>
internal static unsafe partial class TurboJpegNative
{
    private const string Lib = "libturbojpeg.so.0";

    // Flags (turbojpeg.h, 2.1). There is no TJFLAG_OPTIMIZE in 2.1: optimized Huffman tables come with
    // TJFLAG_PROGRESSIVE (libjpeg forces optimize_coding for progressive scans) or via the TJ_OPTIMIZE
    // environment variable that setCompDefaults() reads on every compression.
    public const int FlagNoRealloc = 1024;
    public const int FlagFastDct = 2048;
    public const int FlagAccurateDct = 4096;
    public const int FlagProgressive = 16384;

    [LibraryImport(Lib, EntryPoint = "tjInitCompress")]
    public static partial nint InitCompress();

    [LibraryImport(Lib, EntryPoint = "tjInitDecompress")]
    public static partial nint InitDecompress();

    [LibraryImport(Lib, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

    [LibraryImport(Lib, EntryPoint = "tjCompressFromYUVPlanes")]
    public static partial int CompressFromYuvPlanes(TurboJpegHandle handle, byte** srcPlanes, int width, int* strides,
        int height, int subsamp, byte** jpegBuf, CULong* jpegSize, int jpegQual, int flags);

    [LibraryImport(Lib, EntryPoint = "tjBufSize")]
    public static partial CULong BufSize(int width, int height, int jpegSubsamp);

    [LibraryImport(Lib, EntryPoint = "tjAlloc")]
    public static partial byte* Alloc(int bytes);

    [LibraryImport(Lib, EntryPoint = "tjFree")]
    public static partial void Free(byte* buffer);

    [LibraryImport(Lib, EntryPoint = "tjDecompressHeader3")]
    public static partial int DecompressHeader3(TurboJpegHandle handle, byte* jpegBuf, CULong jpegSize,
        out int width, out int height, out int jpegSubsamp, out int jpegColorspace);

    [LibraryImport(Lib, EntryPoint = "tjDecompressToYUVPlanes")]
    public static partial int DecompressToYuvPlanes(TurboJpegHandle handle, byte* jpegBuf, CULong jpegSize,
        byte** dstPlanes, int width, int* strides, int height, int flags);

    [LibraryImport(Lib, EntryPoint = "tjGetErrorStr2")]
    public static partial byte* GetErrorStr2(TurboJpegHandle handle);

    /// <summary>Error text of the last failed call on this handle (thread-safe per handle in 2.1).</summary>
    public static string LastError(TurboJpegHandle handle) =>
        Marshal.PtrToStringUTF8((nint)GetErrorStr2(handle)) ?? "unknown TurboJPEG error";

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetEnv(string name);
}
