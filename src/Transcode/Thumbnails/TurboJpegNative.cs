using System.Runtime.InteropServices;

namespace StreamServer.Transcode.Thumbnails;

/// <summary>
/// P/Invoke surface of the TurboJPEG 2.1 API (Debian libturbojpeg0: libturbojpeg.so.0), decompression only:
/// <see cref="JpegDecoder"/> reads back what we wrote (tests, verification). Encoding is the shim's libjpeg
/// encoder (<see cref="JpegEncoder"/>). `unsigned long` is 64-bit on Linux x64, hence CULong.
/// </summary>
internal static unsafe partial class TurboJpegNative
{
    private const string Lib = "libturbojpeg.so.0";

    [LibraryImport(Lib, EntryPoint = "tjInitDecompress")]
    public static partial nint InitDecompress();

    [LibraryImport(Lib, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

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
}
