using StreamServer.Cli;
using StreamServer.Hosting;

// Verbs: `package <input> --out <dir> ...` and `trace`; anything else serves (ASP.NET configuration
// arguments such as --urls or --StreamServer:HttpPort=0 pass through to the host).
return args.Length > 0 && args[0] switch
{
    "package" => true,
    "trace" => true,
    _ => false,
}
    ? await CliVerbs.RunAsync(args[0], args[1..])
    : await ServerApp.RunAsync(args);
