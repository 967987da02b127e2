using System.Runtime.InteropServices;

namespace StreamServer.Tracing;

/// <summary>
/// One compiled tracer (bpf/.output/&lt;name&gt;.bpf.o): open, set its <c>const volatile</c> filters (the
/// .rodata map's initial value; libbpf 1.1 without a skeleton), load, attach every program, read maps.
/// </summary>
internal sealed unsafe class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _handle;
    private readonly List<BpfLinkHandle> _links = [];
    private readonly Dictionary<string, (int Offset, int Size)> _rodataVars = new(StringComparer.Ordinal);
    private readonly HashSet<string> _disabled = new(StringComparer.Ordinal);
    private readonly nint _rodataMap;
    private byte[]? _rodata;
    private bool _loaded;

    private BpfObject(string name, BpfObjectHandle handle)
    {
        Name = name;
        _handle = handle;
        _rodataMap = LibBpf.ObjectFindMap(handle.DangerousGetHandle(), ".rodata");
        if (_rodataMap != 0)
        {
            var initial = LibBpf.MapInitialValue(_rodataMap, out var size);
            _rodata = new byte[(int)size];
            if (initial != 0)
            {
                new ReadOnlySpan<byte>((void*)initial, (int)size).CopyTo(_rodata);
            }

            ReadRodataLayout(handle.DangerousGetHandle());
        }
    }

    public string Name { get; }

    public IReadOnlyList<BpfLinkHandle> Links => _links;

    public static BpfObject Open(string path)
    {
        var obj = LibBpf.ObjectOpenFile(path, 0);
        if (obj == 0)
        {
            throw new TracerException($"bpf_object__open_file({path}): {Errno(Marshal.GetLastPInvokeError())}");
        }

        return new BpfObject(Path.GetFileName(path).Replace(".bpf.o", "", StringComparison.Ordinal), new BpfObjectHandle(obj));
    }

    /// <summary>Sets a <c>const volatile</c> global; only before <see cref="Load"/>.</summary>
    public void Set<T>(string variable, T value)
        where T : unmanaged => SetArray(variable, new ReadOnlySpan<T>(in value));

    public void SetArray<T>(string variable, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        if (_loaded)
        {
            throw new InvalidOperationException("filters are read-only once the object is loaded");
        }

        if (_rodata is null || !_rodataVars.TryGetValue(variable, out var v))
        {
            throw new TracerException($"{Name}: no const volatile '{variable}' in .rodata (object and loader out of step?)");
        }

        var bytes = MemoryMarshal.AsBytes(values);
        if (bytes.Length > v.Size)
        {
            throw new TracerException($"{Name}: '{variable}' holds {v.Size} bytes, got {bytes.Length}");
        }

        bytes.CopyTo(_rodata.AsSpan(v.Offset, v.Size));
    }

    /// <summary>Keeps a program out of the load (an optional probe that is switched off).</summary>
    public void Disable(string program)
    {
        for (var p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), 0); p != 0; p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), p))
        {
            if (LibBpf.Utf8(LibBpf.ProgramName(p)) == program)
            {
                LibBpf.ProgramSetAutoload(p, false);
                _disabled.Add(program);
                return;
            }
        }

        throw new TracerException($"{Name}: no program '{program}'");
    }

    public void Load()
    {
        if (_rodata is not null)
        {
            fixed (byte* data = _rodata)
            {
                var rc = LibBpf.MapSetInitialValue(_rodataMap, data, (nuint)_rodata.Length);
                if (rc != 0)
                {
                    throw new TracerException($"{Name}: bpf_map__set_initial_value(.rodata): {Errno(-rc)}");
                }
            }
        }

        var err = LibBpf.ObjectLoad(_handle.DangerousGetHandle());
        if (err != 0)
        {
            throw new TracerException($"{Name}: bpf_object__load: {Errno(-err)} (the verifier log is on stderr)");
        }

        _loaded = true;
    }

    /// <summary>Attaches every loaded (not disabled) program to the tracepoint its SEC() names.</summary>
    public void AttachAll()
    {
        var obj = _handle.DangerousGetHandle();
        for (var p = LibBpf.ObjectNextProgram(obj, 0); p != 0; p = LibBpf.ObjectNextProgram(obj, p))
        {
            var name = LibBpf.Utf8(LibBpf.ProgramName(p)) ?? "?";
            if (_disabled.Contains(name))
            {
                continue;
            }

            var link = LibBpf.ProgramAttach(p);
            if (link == 0)
            {
                throw new TracerException($"{Name}: attach {name}: {Errno(Marshal.GetLastPInvokeError())}");
            }

            _links.Add(new BpfLinkHandle(link, name));
        }
    }

    /// <summary>
    /// Runs the kernel skipped because the program was already running on that CPU (an event in a softirq
    /// interrupting the same program): those events are lost to every counter, so they are reported.
    /// </summary>
    public ulong RecursionMisses()
    {
        ulong total = 0;
        var info = stackalloc byte[LibBpf.ProgInfoSize];
        for (var p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), 0); p != 0; p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), p))
        {
            var fd = LibBpf.ProgramFd(p);
            if (fd < 0)
            {
                continue;
            }

            new Span<byte>(info, LibBpf.ProgInfoSize).Clear();
            var length = (uint)LibBpf.ProgInfoSize;
            if (LibBpf.ObjGetInfoByFd(fd, info, ref length) == 0 && length >= LibBpf.ProgInfoRecursionMisses + 8)
            {
                total += *(ulong*)(info + LibBpf.ProgInfoRecursionMisses);
            }
        }

        return total;
    }

    /// <summary>Kernel ids of the loaded programs (what `bpftool prog show id N` takes).</summary>
    public List<uint> ProgramIds()
    {
        var ids = new List<uint>();
        var info = stackalloc byte[LibBpf.ProgInfoSize];
        for (var p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), 0); p != 0; p = LibBpf.ObjectNextProgram(_handle.DangerousGetHandle(), p))
        {
            var fd = LibBpf.ProgramFd(p);
            new Span<byte>(info, LibBpf.ProgInfoSize).Clear();
            var length = (uint)LibBpf.ProgInfoSize;
            if (fd >= 0 && LibBpf.ObjGetInfoByFd(fd, info, ref length) == 0)
            {
                ids.Add(*(uint*)(info + LibBpf.ProgInfoId));
            }
        }

        return ids;
    }

    public int MapFd(string map)
    {
        var m = LibBpf.ObjectFindMap(_handle.DangerousGetHandle(), map);
        var fd = m == 0 ? -1 : LibBpf.MapFd(m);
        return fd >= 0 ? fd : throw new TracerException($"{Name}: no map '{map}'");
    }

    public void Dispose()
    {
        // Links first (detach), then the object (unload programs, free maps).
        for (var i = _links.Count - 1; i >= 0; i--)
        {
            _links[i].Dispose();
        }

        _links.Clear();
        _handle.Dispose();
    }

    /// <summary>sizeof(struct <paramref name="name"/>) as compiled into the object (its BTF), or -1.</summary>
    public int StructSize(string name)
    {
        var btf = LibBpf.ObjectBtf(_handle.DangerousGetHandle());
        var id = btf == 0 ? -1 : LibBpf.BtfFindByNameKind(btf, name, LibBpf.BtfKindStruct);
        return id <= 0 ? -1 : (int)((uint*)LibBpf.BtfTypeById(btf, (uint)id))[2];
    }

    public static string Errno(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    // .rodata is described by a BTF DATASEC whose members (btf_var_secinfo) give each variable's offset.
    private void ReadRodataLayout(nint obj)
    {
        var btf = LibBpf.ObjectBtf(obj);
        if (btf == 0)
        {
            return;
        }

        var id = LibBpf.BtfFindByNameKind(btf, ".rodata", LibBpf.BtfKindDatasec);
        if (id <= 0)
        {
            return;
        }

        var type = (uint*)LibBpf.BtfTypeById(btf, (uint)id);
        var vlen = (int)(type[1] & 0xFFFF);
        var secinfo = type + 3;
        for (var i = 0; i < vlen; i++)
        {
            var varType = (uint*)LibBpf.BtfTypeById(btf, secinfo[i * 3]);
            var name = LibBpf.Utf8(LibBpf.BtfNameByOffset(btf, varType[0]));
            if (name is not null)
            {
                _rodataVars[name] = ((int)secinfo[(i * 3) + 1], (int)secinfo[(i * 3) + 2]);
            }
        }
    }
}
