public import ObjectStorage

#if canImport(Glibc)
import Glibc
#endif

/// The file operations of a run that change what is on disk or in object storage: each is a step
/// at which a crash test can stop the process, so that every point of a run is shown to be safe
/// to die at.
///
/// In a normal run (``direct``) a step is the system call, or the storage's call, and nothing else.
public struct FileSteps: Sendable {
    /// What a step does to the disk.
    public enum Kind: String, Sendable, CaseIterable {
        /// A file or folder created.
        case create
        /// Bytes appended to an output or a small file (the manifest, `_SUCCESS`).
        case write
        /// A line appended to the run's journal.
        case journal
        /// A file synced.
        case sync
        /// A temporary file renamed into place.
        case rename
        /// A file removed.
        case remove
        /// A file cut back to a checkpoint.
        case truncate
        /// A SQLite transaction committed.
        case sqliteCommit = "sqlite-commit"
        /// A multipart upload started in object storage.
        case startUpload = "start-upload"
        /// A part of an upload sent.
        case uploadPart = "upload-part"
        /// An upload completed: the object appears.
        case completeUpload = "complete-upload"
        /// An upload abandoned.
        case abortUpload = "abort-upload"
        /// A small object stored in one call (the manifest, `_SUCCESS`, an upload's tail).
        case putObject = "put-object"
        /// An object read (an upload's tail, by a resumed run).
        case getObject = "get-object"
        /// An object removed (an upload's tail no longer needed).
        case deleteObject = "delete-object"
    }

    /// What to do at a step.
    public enum Decision: Sendable {
        /// Carry it out.
        case proceed
        /// Die before it.
        case crash
        /// Carry out half of a write, then die: a torn write.
        case tear
    }

    /// Watches the steps and may stop the process at one.
    public protocol Observer: Sendable {
        /// Called before each step.
        func decide(_ kind: Kind, path: String) -> Decision
        /// Ends the process at once, as a crash would: no clean-up, nothing flushed.
        func crash() -> Never
    }

    private let observer: (any Observer)?
    /// Where `s3://` paths are stored; nil when the run writes to disk only.
    public let objectStore: ObjectStorageClient?

    /// Steps carried out as they come.
    public static let direct = FileSteps(observer: nil)

    /// Steps shown to `observer` first; `s3://` paths go to `objectStore`.
    public init(observer: (any Observer)?, objectStore: ObjectStorageClient? = nil) {
        self.observer = observer
        self.objectStore = objectStore
    }

    /// The same steps, with `s3://` paths going to `objectStore`.
    public func with(objectStore: ObjectStorageClient) -> FileSteps {
        FileSteps(observer: self.observer, objectStore: objectStore)
    }

    /// Tells the observer a step is about to happen; dies there if it says so.
    public func step(_ kind: Kind, path: String) {
        guard let observer = self.observer else { return }
        if observer.decide(kind, path: path) != .proceed { observer.crash() }
    }

    /// Writes all of `bytes` to `descriptor` as one step (a torn one writes half, then dies).
    public func write(
        _ bytes: UnsafeRawBufferPointer,
        to descriptor: Int32,
        step kind: Kind = .write,
        path: String,
        operation: String = "write"
    ) throws(SinkError) {
        var bytes = bytes
        if let observer = self.observer {
            switch observer.decide(kind, path: path) {
            case .proceed: break
            case .crash: observer.crash()
            case .tear:
                bytes = UnsafeRawBufferPointer(rebasing: bytes.prefix(bytes.count / 2))
                _ = AtomicFileWriter.writeAll(bytes, to: descriptor)
                observer.crash()
            }
        }
        if let failure = AtomicFileWriter.writeAll(bytes, to: descriptor) {
            throw .io(operation, path: path, errno: failure)
        }
    }

    /// Writes all of `bytes` to `descriptor` as one step.
    public func write(
        _ bytes: [UInt8],
        to descriptor: Int32,
        step kind: Kind = .write,
        path: String,
        operation: String = "write"
    ) throws(SinkError) {
        let failure: SinkError? = bytes.withUnsafeBytes { buffer in
            do throws(SinkError) {
                try self.write(buffer, to: descriptor, step: kind, path: path, operation: operation)
            } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Opens `path`; a step when it may create the file.
    public func open(_ path: String, flags: Int32, mode: UInt32, operation: String) throws(SinkError) -> Int32 {
        if flags & O_CREAT != 0 { self.step(.create, path: path) }
        let descriptor = Glibc.open(path, flags, mode_t(mode))
        guard descriptor >= 0 else { throw .io(operation, path: path, errno: errno) }
        return descriptor
    }

    /// Syncs `descriptor` to disk.
    public func sync(_ descriptor: Int32, path: String) throws(SinkError) {
        self.step(.sync, path: path)
        guard fsync(descriptor) == 0 else { throw .io("sync", path: path, errno: errno) }
    }

    /// Cuts the file open at `descriptor` to `length` bytes and moves to its end.
    public func truncate(_ descriptor: Int32, to length: Int, path: String, operation: String) throws(SinkError) {
        self.step(.truncate, path: path)
        guard ftruncate(descriptor, off_t(length)) == 0, lseek(descriptor, 0, SEEK_END) == off_t(length) else {
            throw .io(operation, path: path, errno: errno)
        }
    }

    /// Removes `path`, if it is there.
    public func remove(_ path: String) {
        guard access(path, F_OK) == 0 else { return }
        self.step(.remove, path: path)
        unlink(path)
    }
}
