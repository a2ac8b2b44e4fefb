import ArgumentParser
import FaceExport

/// The exit codes faceexport promises, as documented in the README.
enum ExitStatus {
    /// Every library exported completely (or, with `on_incomplete: accept`, the run was partial).
    static let complete = ExitCode(LaunchError.Status.complete.rawValue)
    /// An unexpected internal error.
    static let internalError = ExitCode(1)
    /// Outputs committed, but some libraries failed, were incomplete or did not reconcile.
    static let partial = ExitCode(LaunchError.Status.partial.rawValue)
    /// The run stopped: the API refused it (credentials, quota, endpoint), the deadline passed, or
    /// outputs could not be written; previous outputs untouched.
    static let failed = ExitCode(LaunchError.Status.failed.rawValue)
    /// The pipeline file, a flag or the credentials' setup is wrong; nothing was called.
    static let configuration = ExitCode(LaunchError.Status.configuration.rawValue)
    /// Another run of the same pipeline on the same outputs holds the lock.
    static let lockHeld = ExitCode(LaunchError.Status.lockHeld.rawValue)

    /// Interrupted by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM).
    static func interrupted(by signal: Int32) -> ExitCode { ExitCode(128 + signal) }
}
