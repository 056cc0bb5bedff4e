using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace JobQ.Dataflow.Internal;

/// <summary>
/// The logger of a run whose <see cref="JobOptions.Logger"/> is null: entries at <see cref="LogLevel.Warning"/> and above
/// (a worker's failure, a failing input or progress receiver, a bad speed limit) go to <see cref="Console.Error"/>, as
/// Python's logging prints them when nothing is configured, so that a failed item never vanishes unseen.
/// </summary>
/// <remarks>
/// Each entry is one write: <c>JobQ.Dataflow {level}: {message}</c>, then the exception's <see cref="Exception.ToString"/>
/// (type, message and stack trace) if there is one. <see cref="Console.Error"/> is read at each write, so a redirection
/// made after the run started is followed. Information entries (speed reports, resizes) are not written.
/// </remarks>
internal sealed partial class StandardErrorLogger : ILogger
{
    private StandardErrorLogger()
    {
    }

    /// <summary>Gets the one instance; it holds no state.</summary>
    public static StandardErrorLogger Instance { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel is >= LogLevel.Warning and < LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }

        // The message and the exception's text run user code (an item's ToString, an exception's Message): one that
        // throws still leaves an entry, so that a failure is never lost for want of its text.
        string message;
        try
        {
            message = formatter(state, exception);
        }
        catch (Exception formatting)
        {
            message = FromTemplate(state) ?? $"(event {eventId.Id}: the message could not be written, {formatting.GetType().Name})";
        }

        // One call per entry: Console.Error is synchronized, so entries of workers failing at once do not interleave.
        Console.Error.WriteLine(exception is null
            ? $"JobQ.Dataflow {logLevel}: {message}"
            : $"JobQ.Dataflow {logLevel}: {message} {Describe(exception)}");
    }

    /// <summary>
    /// The entry's message written from its template, each value on its own, with a placeholder for a value whose
    /// text cannot be read; null for a state that is not a template and its values.
    /// </summary>
    private static string? FromTemplate<TState>(TState state)
    {
        if (state is not IReadOnlyList<KeyValuePair<string, object?>> values
            || values.FirstOrDefault(pair => pair.Key == "{OriginalFormat}").Value is not string template)
        {
            return null;
        }

        return Hole().Replace(template, hole =>
        {
            var value = values.FirstOrDefault(pair => pair.Key == hole.Groups[1].Value).Value;
            try
            {
                return value is IFormattable formattable && hole.Groups[2].Success
                    ? formattable.ToString(hole.Groups[2].Value, CultureInfo.InvariantCulture)
                    : value?.ToString() ?? "(null)";
            }
            catch (Exception)
            {
                return $"({value!.GetType().FullName}: its text could not be read)";
            }
        });
    }

    [GeneratedRegex(@"\{([^{}:]+)(?::([^{}]*))?\}")]
    private static partial Regex Hole();

    private static string Describe(Exception exception)
    {
        try
        {
            return exception.ToString();
        }
        catch (Exception)
        {
            return $"{exception.GetType().FullName} (its text could not be read)";
        }
    }
}
