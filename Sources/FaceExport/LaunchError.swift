/// Why a pipeline could not be run, or what its start found instead; nothing was exported.
public struct LaunchError: Error, CustomStringConvertible {
    /// What the error means to a scheduler, as the exit status the command ends with.
    public enum Status: Int32, Sendable {
        /// Nothing left to do: an interrupted commit was finished and the run it belonged to was complete.
        case complete = 0
        /// An interrupted commit was finished and the run it belonged to was partial.
        case partial = 2
        /// The run could not go on: an interrupted commit could not be finished.
        case failed = 3
        /// The pipeline, a flag, the credentials' setup or the output folder is wrong; nothing was called.
        case configuration = 4
        /// Another run of the same pipeline on the same outputs holds the lock.
        case lockHeld = 5
    }

    /// One plain line: what, where, what to do.
    public let description: String
    /// The exit status it stands for. Default ``Status/configuration``.
    public var status: Status

    /// Creates an error.
    public init(_ description: String, status: Status = .configuration) {
        self.description = description
        self.status = status
    }
}
