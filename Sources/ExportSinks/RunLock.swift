#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on one pipeline's outputs, so two runs never write them at once.
///
/// The lock is `flock` on `<output_dir>/.faceexport/<pipeline>.lock`: the kernel releases it when the
/// holder exits or dies, so a lock left by a killed run is taken over at once. The file holds the
/// holder's pid, host and start time, for the message the second run prints.
public final class RunLock {
    private let descriptor: Int32
    private var released = false
    /// The lock file.
    public let path: String

    /// Why the lock could not be taken.
    public enum Failure: Error, CustomStringConvertible {
        /// A live run holds it; `holder` is what that run wrote into the file.
        case held(path: String, holder: String)
        /// The lock file could not be created or opened.
        case unavailable(SinkError)

        public var description: String {
            switch self {
            case .held(let path, let holder):
                "another run of this pipeline holds \(path) (\(holder.isEmpty ? "holder unknown" : holder)); try again when it has finished"
            case .unavailable(let error): "cannot take the run lock: \(error)"
            }
        }
    }

    /// Takes the lock for `pipeline` in `folder`, or fails at once if a live run holds it.
    public init(folder: String, pipeline: String, note: String) throws(Failure) {
        let lockFolder = folder + "/.faceexport"
        do { try AtomicFile.makeFolders(lockFolder) } catch { throw .unavailable(error) }
        self.path = lockFolder + "/" + SafeFileName.make(pipeline) + ".lock"
        let descriptor = open(self.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unavailable(.io("open", path: self.path, errno: errno)) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
            close(descriptor)
            let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingSuffixNewlines
            throw .held(path: self.path, holder: holder)
        }
        ftruncate(descriptor, 0)
        let text = Array((note + "\n").utf8)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = descriptor
    }

    deinit { self.release() }

    /// Gives the lock up (also done when the process exits).
    public func release() {
        guard !self.released else { return }
        self.released = true
        flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
    }
}

extension String {
    fileprivate var trimmingSuffixNewlines: String {
        var text = self
        while text.last == "\n" || text.last == "\r" || text.last == "\0" { text.removeLast() }
        return text
    }
}
