#if canImport(Glibc)
import Glibc
#endif

/// A destination for records: one output file, written under a temporary name until the run commits.
///
/// - Important: A sink is used from one serial queue at a time; it is not thread-safe.
public protocol RecordSink: AnyObject {
    /// Where the file lands when the run commits.
    var finalPath: String { get }
    /// Appends records; they become visible under ``finalPath`` only at ``commit()``.
    func write(_ records: [ExportRecord]) throws(SinkError)
    /// Flushes, syncs and renames the file into place.
    func commit() throws(SinkError) -> SinkSummary
    /// Removes the temporary file; the previous output at ``finalPath`` stays as it was.
    func discard()
}

/// What a committed sink wrote.
public struct SinkSummary: Sendable, Hashable {
    /// The committed file.
    public var path: String
    /// The format name, e.g. `ndjson`.
    public var format: String
    /// Records written.
    public var rows: Int
    /// Bytes on disk.
    public var bytes: Int
}

/// Why a sink could not write or commit.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case io(operation: String, path: String, errno: Int32)
        case compression(String)
    }

    private let code: Code

    static func io(_ operation: String, path: String, errno: Int32) -> Self {
        Self(code: .io(operation: operation, path: path, errno: errno))
    }

    static func compression(_ reason: String) -> Self { Self(code: .compression(reason)) }

    public var description: String {
        switch self.code {
        case .io(let operation, let path, let errno):
            "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        case .compression(let reason):
            "gzip failed: \(reason)"
        }
    }
}
