#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name beside its destination and renamed into place on commit.
///
/// The temporary name is `.<name>.tmp-<run id>` in the destination folder, so the rename never crosses
/// a file system; a reader of the final name sees the previous file or the complete new one, never a
/// part. Files are created with `mode` (0600 by default: exports hold personal data).
final class AtomicFile {
    let finalPath: String
    let temporaryPath: String
    private var descriptor: Int32
    private(set) var bytesWritten = 0

    init(path: String, runID: String, mode: mode_t = 0o600) throws(SinkError) {
        self.finalPath = path
        let folder = Self.folder(of: path)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        self.temporaryPath = (folder == "." && !path.hasPrefix("./") ? "" : folder + "/") + ".\(name).tmp-\(runID)"
        try Self.makeFolders(folder)
        let descriptor = open(self.temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .io("create", path: self.temporaryPath, errno: errno) }
        // open() applies the umask; the mode is a promise about personal data, so set it exactly.
        fchmod(descriptor, mode)
        self.descriptor = descriptor
    }

    deinit {
        if self.descriptor >= 0 {
            close(self.descriptor)
            unlink(self.temporaryPath)
        }
    }

    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError) {
        let failure: Int32? = bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(self.descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failure { throw .io("write", path: self.temporaryPath, errno: failure) }
        self.bytesWritten += bytes.count
    }

    /// Syncs the data, renames the file into place and syncs the folder so the rename survives a crash.
    func commit() throws(SinkError) {
        guard fsync(self.descriptor) == 0 else { throw .io("sync", path: self.temporaryPath, errno: errno) }
        close(self.descriptor)
        self.descriptor = -1
        guard rename(self.temporaryPath, self.finalPath) == 0 else {
            let error = errno
            unlink(self.temporaryPath)
            throw .io("rename into place", path: self.finalPath, errno: error)
        }
        let folder = open(Self.folder(of: self.finalPath), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }

    func discard() {
        guard self.descriptor >= 0 else { return }
        close(self.descriptor)
        self.descriptor = -1
        unlink(self.temporaryPath)
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func makeFolders(_ folder: String) throws(SinkError) {
        var current = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/") where component != "." {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw .io("create folder", path: current, errno: errno)
            }
        }
    }
}
