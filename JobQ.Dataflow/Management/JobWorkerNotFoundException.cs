namespace JobQ.Dataflow;

/// <summary>No stage of the job manager has the worker delegate given to <c>SetThreadNum</c> (jobq's <c>JobWorkerNotFound</c>).</summary>
public sealed class JobWorkerNotFoundException : JobWorkerException
{
    /// <summary>Creates the exception.</summary>
    public JobWorkerNotFoundException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public JobWorkerNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public JobWorkerNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
