import FaceExportCrypto

#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name beside its destination and renamed into place on commit.
///
/// The temporary name is `.<name>.tmp-<run id>` in the destination folder, so the rename never crosses
/// a file system; a reader of the final name sees the previous file or the complete new one, never a
/// part. Files are created with `mode` (0600 by default: exports hold personal data). The bytes are
/// hashed (SHA-256) as they are written, for the run's manifest.
final class AtomicFile {
    let finalPath: String
    let temporaryPath: String
    private var descriptor: Int32
    private let steps: FileSteps
    private var digest: SHA256Digest? = SHA256Digest()
    private(set) var sha256 = ""
    private(set) var bytesWritten = 0

    /// Creates the temporary file, or with `resume` reopens the one an interrupted run left, checks
    /// that it still holds the bytes its checkpoint vouched for, and cuts it back to them.
    init(
        path: String,
        runID: String,
        mode: mode_t = 0o600,
        resume: Resume? = nil,
        steps: FileSteps = .direct
    )
        throws(SinkError)
    {
        self.finalPath = path
        self.temporaryPath = Self.temporaryPath(for: path, runID: runID)
        self.steps = steps
        try Self.makeFolders(Self.folder(of: path), steps: steps)
        let flags = resume == nil ? O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC : O_WRONLY | O_CLOEXEC
        if resume != nil, access(self.temporaryPath, F_OK) != 0 {
            throw .damaged("the temporary file \(self.temporaryPath)", "is gone")
        }
        let descriptor = try steps.open(
            self.temporaryPath,
            flags: flags,
            mode: mode,
            operation: resume == nil ? "create" : "resume"
        )
        // open() applies the umask; the mode is a promise about personal data, so set it exactly.
        fchmod(descriptor, mode)
        self.descriptor = descriptor
        if let resume {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw .io("resume", path: self.temporaryPath, errno: errno) }
            guard Int(status.st_size) >= resume.bytes else {
                throw .damaged(
                    "the temporary file \(self.temporaryPath)",
                    "holds \(status.st_size) bytes, fewer than the \(resume.bytes) its journal vouches for"
                )
            }
            try self.hashExistingBytes(resume.bytes)
            if let expected = resume.sha256, self.digest?.hexDigestSoFar() != expected {
                throw .damaged(
                    "the temporary file \(self.temporaryPath)",
                    "no longer holds the bytes its journal vouches for"
                )
            }
            try steps.truncate(descriptor, to: resume.bytes, path: self.temporaryPath, operation: "cut back")
            self.bytesWritten = resume.bytes
        }
    }

    /// Where an interrupted run's file is continued from: the bytes its last checkpoint vouched for.
    struct Resume {
        /// The file's length at the checkpoint.
        var bytes: Int
        /// SHA-256 of those bytes, when the journal recorded it (journals of earlier versions did not).
        var sha256: String?
    }

    /// SHA-256 of the bytes written so far: recorded at a checkpoint, so that a resumed run can tell
    /// that the file still holds them.
    var sha256SoFar: String { self.digest?.hexDigestSoFar() ?? self.sha256 }

    deinit {
        // Removing the temporary file is `discard()`'s decision: an interrupted run keeps it to resume.
        if self.descriptor >= 0 { close(self.descriptor) }
    }

    /// Feeds the digest with the first `count` bytes already in the file.
    private func hashExistingBytes(_ count: Int) throws(SinkError) {
        let read = try Self.readChunks(of: self.temporaryPath, upTo: count) { self.digest?.update($0) }
        guard read == count else { throw .io("read", path: self.temporaryPath, errno: EIO) }
    }

    /// Reads the file at `path` (up to `limit` bytes) in chunks of 1 MiB, handing each to `body`;
    /// returns how many bytes it read.
    static func readChunks(
        of path: String,
        upTo limit: Int = .max,
        _ body: (UnsafeRawBufferPointer) -> Void
    )
        throws(SinkError) -> Int
    {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .io("read", path: path, errno: errno) }
        defer { close(input) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while total < limit {
            let count = buffer.withUnsafeMutableBytes {
                Glibc.read(input, $0.baseAddress, min($0.count, limit - total))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .io("read", path: path, errno: errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            total += count
        }
        return total
    }

    /// `.<name>.tmp-<run id>` beside `path`.
    static func temporaryPath(for path: String, runID: String) -> String {
        let folder = Self.folder(of: path)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let prefix = folder == "." && !path.hasPrefix("./") ? "" : folder == "/" ? "/" : folder + "/"
        return prefix + ".\(name)" + Self.temporarySuffix(runID: runID)
    }

    /// What ends every temporary name of the run `runID`.
    static func temporarySuffix(runID: String) -> String { ".tmp-" + runID }

    /// Appends `buffer` to the file and to its digest.
    func write(_ buffer: UnsafeRawBufferPointer) throws(SinkError) {
        self.digest?.update(buffer)
        try self.steps.write(buffer, to: self.descriptor, path: self.temporaryPath)
        self.bytesWritten += buffer.count
    }

    /// Syncs and closes the temporary file; it is renamed into place by ``commit()``.
    func finish() throws(SinkError) {
        guard self.descriptor >= 0 else { return }
        try self.steps.sync(self.descriptor, path: self.temporaryPath)
        close(self.descriptor)
        self.descriptor = -1
        self.sha256 = self.digest.take()?.hexDigest() ?? ""
    }

    /// Finishes the file, renames it into place and syncs the folder so the rename survives a crash.
    func commit() throws(SinkError) {
        try self.finish()
        try Self.rename(self.temporaryPath, to: self.finalPath, steps: self.steps)
    }

    func discard() {
        if self.descriptor >= 0 {
            close(self.descriptor)
            self.descriptor = -1
        }
        self.steps.remove(self.temporaryPath)
    }

    /// Renames `source` over `destination` and syncs the destination's folder.
    static func rename(_ source: String, to destination: String, steps: FileSteps = .direct) throws(SinkError) {
        steps.step(.rename, path: destination)
        guard Glibc.rename(source, destination) == 0 else {
            let error = errno
            steps.remove(source)
            throw .io("rename into place", path: destination, errno: error)
        }
        let folder = open(Self.folder(of: destination), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func makeFolders(_ folder: String, steps: FileSteps = .direct) throws(SinkError) {
        var current = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/") where component != "." {
            current += "/" + component
            if access(current, F_OK) == 0 { continue }
            steps.step(.create, path: current)
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw .io("create folder", path: current, errno: errno)
            }
        }
    }
}

/// Small files written atomically: the run's manifest and its `_SUCCESS` marker.
public enum AtomicFileWriter {
    /// Writes every byte of `buffer` to `descriptor`, going on after short writes; returns the
    /// `errno` of the write that failed (a short write sets none: the next one says why, e.g. ENOSPC).
    public static func writeAll(_ buffer: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }
            offset += written
        }
        return nil
    }

    /// Writes `bytes` to `path` through a temporary file, synced and renamed into place.
    public static func write(
        _ bytes: [UInt8],
        to path: String,
        runID: String,
        mode: UInt32 = 0o600,
        steps: FileSteps = .direct
    ) throws(SinkError) {
        let file = try AtomicFile(path: path, runID: runID, mode: mode_t(mode), steps: steps)
        try file.write(bytes[...])
        try file.commit()
    }
}

/// What an interrupted run leaves behind, found by the names `AtomicFile` gives.
public enum LeftoverFiles {
    /// Removes the temporary files of the run `runID` under `folder` (any depth), with SQLite's
    /// companions (`-wal`, `-shm`, `-journal`).
    public static func remove(of runID: String, under folder: String, steps: FileSteps) {
        let suffix = AtomicFile.temporarySuffix(runID: runID)
        Self.walk(folder) { path, name in
            if ["", "-wal", "-shm", "-journal"].contains(where: { name.hasSuffix(suffix + $0) }) { steps.remove(path) }
        }
    }

    /// Removes the temporary files of any run under `folder` (any depth) whose final path, relative
    /// to `folder`, `isOutput` recognises: what a run whose id is lost left.
    public static func removeOfAnyRun(under folder: String, steps: FileSteps, isOutput: (String) -> Bool) {
        Self.walk(folder) { path, name in
            // `.<name>.tmp-<run id>` (SQLite's companions add `-wal`, `-shm`, `-journal`).
            guard name.hasPrefix("."), let marker = Self.lastRange(of: ".tmp-", in: name), marker > 1 else { return }
            let relativeFolder = path.dropFirst(folder.count + 1).dropLast(name.count)
            let final = relativeFolder + name.dropFirst().prefix(marker - 1)
            if isOutput(String(final)) { steps.remove(path) }
        }
    }

    /// Where the last `needle` in `text` begins, in characters; nil when there is none.
    private static func lastRange(of needle: String, in text: String) -> Int? {
        let characters = Array(text)
        let pattern = Array(needle)
        guard characters.count >= pattern.count else { return nil }
        return (0...(characters.count - pattern.count)).last { characters[$0...].starts(with: pattern) }
    }

    /// Calls `body` with the path and name of every file under `folder`, not following links.
    private static func walk(_ folder: String, _ body: (String, String) -> Void) {
        guard let directory = opendir(folder) else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let path = folder + "/" + name
            var status = stat()
            let isFolder =
                entry.pointee.d_type == UInt8(DT_UNKNOWN)
                ? lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
                : entry.pointee.d_type == UInt8(DT_DIR)
            if isFolder {
                Self.walk(path, body)
            } else {
                body(path, name)
            }
        }
    }
}
