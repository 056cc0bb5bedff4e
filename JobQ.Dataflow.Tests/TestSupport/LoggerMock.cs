using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.TestSupport;

/// <summary>Builds and checks Moq loggers.</summary>
internal static class LoggerMock
{
    /// <summary>Creates a logger mock enabled at every level.</summary>
    public static Mock<ILogger> Create()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        return logger;
    }

    /// <summary>Creates a logger mock enabled at every level whose every <c>Log</c> call throws.</summary>
    public static Mock<ILogger> CreateThrowing()
    {
        var logger = Create();
        logger
            .Setup(l => l.Log(It.IsAny<LogLevel>(), It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException("logger down"));
        return logger;
    }

    /// <summary>Verifies log calls at <paramref name="level"/> with exactly <paramref name="exception"/> and a message containing <paramref name="text"/>.</summary>
    public static void VerifyLog(this Mock<ILogger> logger, LogLevel level, Exception exception, string text, Times times)
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.Is<It.IsAnyType>((state, _) => (state.ToString() ?? string.Empty).Contains(text, StringComparison.Ordinal)),
                exception,
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            times);

    /// <summary>Verifies log calls at <paramref name="level"/> with an exception of type <typeparamref name="TException"/>.</summary>
    public static void VerifyLog<TException>(this Mock<ILogger> logger, LogLevel level, Times times)
        where TException : Exception
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<TException>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            times);

    /// <summary>Verifies that nothing was logged at <paramref name="level"/>.</summary>
    public static void VerifyNoLog(this Mock<ILogger> logger, LogLevel level)
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            Times.Never);
}
