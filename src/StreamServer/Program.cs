using StreamServer.Cli;
using StreamServer.Hosting;

// A verb (`package <input> --out <dir> ...`, `trace`) runs and exits; anything else serves (ASP.NET configuration
// arguments such as --urls or --StreamServer:HttpPort=0 pass through to the host).
return args.Length > 0 && CliVerbs.Find(args[0]) is { } verb
    ? await verb(args[1..])
    : await ServerApp.RunAsync(args);
