using System.Diagnostics;

namespace JobQ.Dataflow.Tests.Package;

/// <summary>The package works when consumed as users consume it: packed, installed from a folder, referenced by a fresh app.</summary>
[TestClass]
public sealed class PackageTests
{
    private static readonly TimeSpan StepBound = TimeSpan.FromMinutes(4);

    [TestMethod]
    [TestCategory("Package")]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void Pack_InstalledIntoFreshConsoleApp_RunsJobqSynopsis()
    {
        var root = FindRepositoryRoot();
        var work = Directory.CreateTempSubdirectory("jobq-package-");
        try
        {
            var feed = Path.Combine(work.FullName, "feed");
            Run("dotnet", $"pack \"{Path.Combine(root, "JobQ.Dataflow", "JobQ.Dataflow.csproj")}\" -c Release -o \"{feed}\"", root);
            var package = Directory.GetFiles(feed, "JobQ.Dataflow.*.nupkg").Single(p => !p.EndsWith(".snupkg", StringComparison.Ordinal));
            Assert.IsTrue(File.Exists(Path.ChangeExtension(package, ".snupkg")), "a symbols package is produced beside the package");
            var version = Path.GetFileNameWithoutExtension(package)["JobQ.Dataflow.".Length..];

            var app = Path.Combine(work.FullName, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestoreAdditionalProjectSources>{feed}</RestoreAdditionalProjectSources>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="JobQ.Dataflow" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using JobQ.Dataflow;

                JobQueue.Run([0, 1, 2], Workers.Of<int>().Then(Add1).Then(Multi2).Then(PrintArg));
                JobQueue.Run(Enumerable.Range(0, 10), Workers.Of<int>().Then(DropEven).Then(PrintArg));

                static int Add1(int args) => args + 1;
                static int Multi2(int args) => args * 2;
                static void PrintArg(int args) => Console.WriteLine(args);
                static WorkerResult<int> DropEven(int i) => i % 2 == 0 ? JobQueue.EmptyRst : i;
                """);

            var output = Run("dotnet", "run -c Release", app);

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            CollectionAssert.AreEqual(new[] { "2", "4", "6", "1", "3", "5", "7", "9" }, lines);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JobQ.Dataflow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (with JobQ.Dataflow.sln) was not found above the test binaries.");
    }

    private static string Run(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepBound))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{file} {arguments}' did not finish within {StepBound}.");
        }

        Assert.AreEqual(0, process.ExitCode, $"'{file} {arguments}' failed:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }
}
