using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace JobQ.Dataflow.Tests.Docs;

/// <summary>
/// Keeps README.md and docs/*.md true to the code: every <c>```csharp</c> block compiles against the library as it
/// is, every relative link points at a file that exists, and the README's test command is the one CI runs.
/// </summary>
/// <remarks>
/// <para>Each block is compiled on its own, as the <c>Program.cs</c> of a console app: top-level statements, local
/// functions and types after them; a block of declarations only is compiled as a library. It sees the usings a .NET
/// console app gets implicitly (<see cref="ImplicitUsings"/>) and <c>using JobQ.Dataflow;</c>; any other namespace
/// (Dataflow, logging, Polly, metrics) it names itself. It is compiled with the test run's own assemblies, so it sees
/// the library, Polly, the logging abstractions and the framework.</para>
/// <para>A block that is deliberately a fragment is marked <c>```csharp snippet-skip</c>: it is not compiled. Keep that
/// rare (see <see cref="MostSkippedBlocks"/>); a snippet that compiles cannot rot.</para>
/// </remarks>
[TestClass]
public sealed partial class DocsTests
{
    /// <summary>The info-string word that marks a block as a fragment that is not compiled.</summary>
    public const string SkipMarker = "snippet-skip";

    /// <summary>The most blocks that may be marked <see cref="SkipMarker"/> across README and docs.</summary>
    private const int MostSkippedBlocks = 2;

    /// <summary>The global usings of a .NET console app with <c>ImplicitUsings</c>, plus the library's namespace.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using JobQ.Dataflow;
        """;

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    [TestMethod]
    public void CSharpBlocks_InReadmeAndDocs_Compile()
    {
        var blocks = Blocks().Where(b => !b.Skipped).ToList();
        Assert.IsGreaterThanOrEqualTo(10, blocks.Count, "README and docs have C# blocks to compile");

        var failures = new StringBuilder();
        foreach (var block in blocks)
        {
            var errors = Compile(block.Code);
            if (errors.Count > 0)
            {
                failures.Append(CultureInfo.InvariantCulture, $"{block.Where}: {errors.Count} error(s)\n");
                foreach (var error in errors.Take(5))
                {
                    failures.Append(CultureInfo.InvariantCulture, $"    {error}\n");
                }
            }
        }

        Assert.AreEqual(0, failures.Length, $"C# blocks that do not compile:\n{failures}");
    }

    [TestMethod]
    public void CSharpBlocks_MarkedSnippetSkip_AreRare()
    {
        var skipped = Blocks().Where(b => b.Skipped).Select(b => b.Where).ToList();

        Assert.IsLessThanOrEqualTo(MostSkippedBlocks, skipped.Count, $"blocks marked {SkipMarker}: {string.Join(", ", skipped)}");
    }

    [TestMethod]
    public void Compile_BlockWithAnError_ReportsIt()
    {
        var errors = Compile("JobQueue.Run([1, 2, 3], Workers.Of<int>().Then(NoSuchWorker));");

        Assert.IsNotEmpty(errors, "the checker compiles for real: an unknown name is an error");
    }

    [TestMethod]
    public void Compile_StatementsThenTypes_Compiles()
    {
        var errors = Compile("""
            var result = await JobQueue.RunAsync(Enumerable.Range(0, 3), Workers.Of<int>().Then(Doubler.Double));
            Console.WriteLine(result.Completed);

            static class Doubler
            {
                public static int Double(int x) => x * 2;
            }
            """);

        Assert.IsEmpty(errors, string.Join("\n", errors));
    }

    [TestMethod]
    public void MarkdownLinks_Relative_PointToExistingFiles()
    {
        var root = RepositoryRoot();
        var broken = new List<string>();
        foreach (var file in MarkdownFiles(root))
        {
            var text = File.ReadAllText(file);
            foreach (Match link in MarkdownLink().Matches(text))
            {
                var target = link.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith('#') || target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    continue;
                }

                var parts = target.Split('#', 2);
                var linked = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, parts[0]));
                if (!File.Exists(linked))
                {
                    broken.Add($"{Path.GetRelativePath(root, file)}: {target}");
                }
                else if (parts.Length == 2 && linked.EndsWith(".md", StringComparison.Ordinal) && !HeadingAnchors(linked).Contains(parts[1]))
                {
                    broken.Add($"{Path.GetRelativePath(root, file)}: {target} (no such heading)");
                }
            }
        }

        Assert.IsEmpty(broken, $"relative links to missing files or headings:\n{string.Join("\n", broken)}");
    }

    [TestMethod]
    public void HeadingAnchors_HeadingWithCodeAndPunctuation_AreGitHubsSlugs()
    {
        var file = Path.Combine(Path.GetTempPath(), $"jobq-anchors-{Guid.NewGuid():N}.md");
        File.WriteAllText(file, "# Title\n\n## What `Run`, `RunAsync` and more return\n\n```sh\n# not a heading\n```\n");
        try
        {
            CollectionAssert.AreEquivalent(new[] { "title", "what-run-runasync-and-more-return" }, HeadingAnchors(file).ToList());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void Readme_TestCommand_IsTheOneCiRuns()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var ci = File.ReadAllLines(Path.Combine(root, ".ci", "run"));
        const string Command = "dotnet test JobQ.Dataflow.sln -c Release";

        StringAssert.Contains(readme, $"{Command}  ", "the README's test command, followed by its comment");
        Assert.IsTrue(
            ci.Any(line => line.Trim().StartsWith(Command + " ", StringComparison.Ordinal)),
            $".ci/run runs '{Command}' (with its own flags after it)");
    }

    /// <summary>Returns the errors of compiling <paramref name="code"/> as a console app's only source file.</summary>
    internal static IReadOnlyList<string> Compile(string code)
    {
        var parse = CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview);
        var program = CSharpSyntaxTree.ParseText(code, parse, path: "Program.cs");
        var usings = CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "GlobalUsings.cs");
        var hasStatements = program.GetCompilationUnitRoot().Members.Any(m => m is Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax);
        var options = new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary)
            .WithNullableContextOptions(NullableContextOptions.Enable);
        var compilation = CSharpCompilation.Create("Snippet", [usings, program], References.Value, options);
        return compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToList();
    }

    /// <summary>Every <c>```csharp</c> block of README.md and docs/*.md, with where it starts.</summary>
    private static IEnumerable<Block> Blocks()
    {
        var root = RepositoryRoot();
        foreach (var file in MarkdownFiles(root))
        {
            var text = File.ReadAllText(file).ReplaceLineEndings("\n");
            foreach (Match match in CSharpBlock().Matches(text))
            {
                var line = 1 + text.AsSpan(0, match.Index).Count('\n');
                var info = match.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                yield return new Block($"{Path.GetRelativePath(root, file)}:{line}", match.Groups[2].Value, info.Contains(SkipMarker));
            }
        }
    }

    /// <summary>The anchors GitHub gives the headings of a markdown file: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> HeadingAnchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var fenced = false;
        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
            }
            else if (!fenced && Heading().Match(line) is { Success: true } heading)
            {
                var text = heading.Groups[1].Value.Trim().ToLowerInvariant();
                anchors.Add(new string(text.Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-'));
            }
        }

        return anchors;
    }

    private static IEnumerable<string> MarkdownFiles(string root)
    {
        yield return Path.Combine(root, "README.md");
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
        {
            yield return file;
        }
    }

    /// <summary>The assemblies this test run loads from: the framework, the library and its dependencies.</summary>
    private static MetadataReference[] LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return paths.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "JobQ.Dataflow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No JobQ.Dataflow.sln above {AppContext.BaseDirectory}.");
    }

    // A fenced block whose info string starts with csharp: group 1 is the rest of the info string, group 2 the code.
    [GeneratedRegex(@"^```csharp([^\n]*)\n(.*?)^```[ \t]*$", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();

    // An inline link or image: group 1 is the target.
    [GeneratedRegex(@"\]\(([^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^#{1,6} (.+)$")]
    private static partial Regex Heading();

    private sealed record Block(string Where, string Code, bool Skipped);
}
