using SharpFuzz;
using StreamServer.Fuzz;

// Under afl-fuzz (scripts/fuzz.sh): `StreamServer.Fuzz <target>` reads inputs through SharpFuzz's persistent loop.
// Without afl: `StreamServer.Fuzz <target> FILE...` runs the files once each (how a crash is replayed).
if (args.Length == 0)
{
    Console.Error.WriteLine($"usage: StreamServer.Fuzz <{string.Join('|', FuzzTargets.Names)}> [input files...]");
    return 2;
}

var target = args[0];
if (args.Length > 1)
{
    foreach (var file in args[1..])
    {
        FuzzTargets.Run(target, File.ReadAllBytes(file));
    }

    return 0;
}

Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    FuzzTargets.Run(target, copy.GetBuffer().AsSpan(0, (int)copy.Length));
});
return 0;
