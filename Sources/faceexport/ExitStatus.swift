import ArgumentParser

/// The exit codes faceexport promises, as documented in the README.
enum ExitStatus {
    /// Every library exported completely.
    static let complete = ExitCode(0)
    /// An unexpected internal error.
    static let internalError = ExitCode(1)
    /// Outputs committed, but some libraries failed, were incomplete or did not reconcile.
    static let partial = ExitCode(2)
    /// The run stopped: the API refused it (credentials, quota, endpoint) or outputs could not be written.
    static let failed = ExitCode(3)
    /// The pipeline file, a flag or the credentials' setup is wrong; nothing was called.
    static let configuration = ExitCode(4)
}
