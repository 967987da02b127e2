using StreamServer.Fuzz;
using StreamServer.Tests.Infrastructure;
using StreamServer.TestSupport;

namespace StreamServer.Tests.Fuzz;

/// <summary>
/// The fuzz targets (fuzz/FuzzTargets.cs) over what the fuzzer keeps: every seed and every crash it ever found (as a
/// regular test, so a fixed crash stays fixed), then a bounded coverage-guided run of each target with afl-fuzz
/// (scripts/fuzz.sh; FUZZ_SECONDS per target, 10 by default here, 60 by hand).
/// </summary>
[Collection(ServerTestsCollection.Name)]
public sealed class FuzzTests
{
    private static readonly string Root = RepoPaths.Combine("tests", "StreamServer.Tests", "Fuzz");

    public static TheoryData<string, string> KeptInputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var kind in (string[])["corpus", "crashes"])
        {
            foreach (var target in FuzzTargets.Names)
            {
                var dir = Path.Combine(Root, kind, target);
                if (!Directory.Exists(dir))
                {
                    continue;
                }

                foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                {
                    data.Add(target, Path.GetRelativePath(Root, file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(KeptInputs))]
    public void Kept_inputs_and_past_crashes_run_clean(string target, string file) =>
        FuzzTargets.Run(target, File.ReadAllBytes(Path.Combine(Root, file)));

    [Fact]
    public void Every_target_has_seeds()
    {
        foreach (var target in FuzzTargets.Names)
        {
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(Root, "corpus", target)));
        }
    }

    [Fact]
    public async Task Coverage_guided_fuzzing_of_every_target_finds_no_crash()
    {
        var missing = Capabilities.MissingTool("afl-fuzz");
        Assert.SkipWhen(missing is not null, missing + " (apt package afl++)");
        var seconds = Environment.GetEnvironmentVariable("FUZZ_SECONDS") ?? "10";
        var run = await ProcessRunner.RunAsync("env", ["FUZZ_NO_BUILD=1", RepoPaths.Combine("scripts", "fuzz.sh"), seconds], TimeSpan.FromMinutes(10));
        TestContext.Current.TestOutputHelper?.WriteLine(run.StdOut);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Equal(FuzzTargets.Names.Length, run.StdOut.Split('\n').Count(l => l.StartsWith("fuzz ", StringComparison.Ordinal) && l.Contains(" 0 crashes", StringComparison.Ordinal)));
    }
}
