using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>
/// P/Invoke surface of libbpf 1.1 (Debian libbpf1). Pointer-returning calls report failure as NULL with
/// errno set (libbpf 1.0 semantics), integer calls as a negative errno.
/// </summary>
internal static unsafe partial class LibBpf
{
    public const string Library = "libbpf.so.1";

    [LibraryImport(Library, EntryPoint = "bpf_object__open_file", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial nint ObjectOpenFile(string path, nint opts);

    [LibraryImport(Library, EntryPoint = "bpf_object__load")]
    public static partial int ObjectLoad(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__close")]
    public static partial void ObjectClose(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__btf")]
    public static partial nint ObjectBtf(nint obj);

    [LibraryImport(Library, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint ObjectFindMap(nint obj, string name);

    [LibraryImport(Library, EntryPoint = "bpf_object__next_program")]
    public static partial nint ObjectNextProgram(nint obj, nint previous);

    [LibraryImport(Library, EntryPoint = "bpf_program__name")]
    public static partial nint ProgramName(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_program__set_autoload")]
    public static partial int ProgramSetAutoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Library, EntryPoint = "bpf_program__attach", SetLastError = true)]
    public static partial nint ProgramAttach(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_program__fd")]
    public static partial int ProgramFd(nint prog);

    [LibraryImport(Library, EntryPoint = "bpf_obj_get_info_by_fd")]
    public static partial int ObjGetInfoByFd(int fd, void* info, ref uint infoLength);

    /// <summary>struct bpf_prog_info: size and offsets of the fields read (from this kernel's BTF; stable UAPI).</summary>
    public const int ProgInfoSize = 232;
    public const int ProgInfoId = 4;
    public const int ProgInfoRunTimeNs = 192;
    public const int ProgInfoRunCount = 200;
    public const int ProgInfoRecursionMisses = 208;

    [LibraryImport(Library, EntryPoint = "bpf_link__destroy")]
    public static partial int LinkDestroy(nint link);

    [LibraryImport(Library, EntryPoint = "bpf_map__fd")]
    public static partial int MapFd(nint map);

    [LibraryImport(Library, EntryPoint = "bpf_map__value_size")]
    public static partial uint MapValueSize(nint map);

    [LibraryImport(Library, EntryPoint = "bpf_map__initial_value")]
    public static partial nint MapInitialValue(nint map, out nuint size);

    [LibraryImport(Library, EntryPoint = "bpf_map__set_initial_value")]
    public static partial int MapSetInitialValue(nint map, void* data, nuint size);

    [LibraryImport(Library, EntryPoint = "bpf_map_lookup_elem", SetLastError = true)]
    public static partial int MapLookupElem(int fd, void* key, void* value);

    [LibraryImport(Library, EntryPoint = "bpf_map_get_next_key", SetLastError = true)]
    public static partial int MapGetNextKey(int fd, void* key, void* nextKey);

    [LibraryImport(Library, EntryPoint = "libbpf_num_possible_cpus")]
    public static partial int NumPossibleCpus();

    [LibraryImport(Library, EntryPoint = "ring_buffer__new", SetLastError = true)]
    public static partial nint RingBufferNew(int mapFd, delegate* unmanaged<nint, nint, nuint, int> sample, nint ctx, nint opts);

    [LibraryImport(Library, EntryPoint = "ring_buffer__add")]
    public static partial int RingBufferAdd(nint rb, int mapFd, delegate* unmanaged<nint, nint, nuint, int> sample, nint ctx);

    [LibraryImport(Library, EntryPoint = "ring_buffer__poll")]
    public static partial int RingBufferPoll(nint rb, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "ring_buffer__free")]
    public static partial void RingBufferFree(nint rb);

    [LibraryImport(Library, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int BtfFindByNameKind(nint btf, string name, uint kind);

    [LibraryImport(Library, EntryPoint = "btf__type_by_id")]
    public static partial nint BtfTypeById(nint btf, uint id);

    [LibraryImport(Library, EntryPoint = "btf__name_by_offset")]
    public static partial nint BtfNameByOffset(nint btf, uint offset);

    public const uint BtfKindStruct = 4;
    public const uint BtfKindDatasec = 15;

    public static string? Utf8(nint p) => p == 0 ? null : Marshal.PtrToStringUTF8(p);
}
