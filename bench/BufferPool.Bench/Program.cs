using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace StreamServer.BufferPool.Bench;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "loop")
        {
            TightLoop.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "cpu")
        {
            // MediumRun timed by process CPU time. In-process toolchain: BenchmarkDotNet then times with this very
            // clock object (no generated child project to carry it over to). Every case runs under the same job.
            var job = Job.MediumRun.WithClock(ProcessCpuClock.Instance).WithToolchain(InProcessEmitToolchain.Instance).WithId("MediumRun-CPU");
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..], DefaultConfig.Instance.AddJob(job));
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
