using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>Gives a sample a Spectre.Console console that writes where the sample was told to write.</summary>
public static class SampleConsole
{
    /// <summary>The width of a heading written to an output that is not a terminal.</summary>
    public const int PlainRuleWidth = 80;

    /// <summary>
    /// The width of a console that is not a terminal (a file, a pipe, a test's writer): wide enough that Spectre never
    /// wraps a line, so each logical line stays one line whatever reads it.
    /// </summary>
    public const int UnwrappedWidth = 32_767;

    /// <summary>
    /// Returns the terminal's console when <paramref name="output"/> is <see cref="Console.Out"/> on a terminal;
    /// otherwise a plain console over <paramref name="output"/>: no colour, no live redraw, no wrapping.
    /// </summary>
    /// <param name="output">Where the sample writes.</param>
    /// <returns>The console.</returns>
    public static IAnsiConsole For(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (IsTerminal(output))
        {
            return AnsiConsole.Console;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = UnwrappedWidth;
        return console;
    }

    /// <summary>Gets a value indicating whether <paramref name="output"/> is the process's standard output and that is a terminal (not redirected).</summary>
    /// <param name="output">Where the sample writes.</param>
    /// <returns><see langword="true"/> for <see cref="Console.Out"/> on a terminal.</returns>
    public static bool IsTerminal(TextWriter output) => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>
    /// Writes a heading: a rule across a terminal, or on any other output one line of <see cref="PlainRuleWidth"/>
    /// characters (a rule there would be <see cref="UnwrappedWidth"/> wide).
    /// </summary>
    /// <param name="console">The console from <see cref="For"/>.</param>
    /// <param name="output">The writer <paramref name="console"/> was made for.</param>
    /// <param name="title">The heading's text.</param>
    public static void WriteHeading(IAnsiConsole console, TextWriter output, string title)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(title);
        if (IsTerminal(output))
        {
            console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
        }
        else
        {
            console.WriteLine($"── {title} {new string('─', Math.Max(3, PlainRuleWidth - title.Length - 4))}");
        }
    }

    /// <summary>Gets a value indicating whether <paramref name="console"/> can redraw in place (a live display or progress bar).</summary>
    /// <param name="console">The console.</param>
    /// <returns><see langword="true"/> for an interactive terminal.</returns>
    public static bool IsLive(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        return console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
    }
}
