#if canImport(Glibc)
import Glibc
#endif

/// Where an encoder's bytes go: the file itself, or a compressor in front of it.
protocol ByteOutput: AnyObject {
    /// Accepts bytes; may buffer them.
    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError)
    /// Writes whatever is buffered, ends the compressed stream, and syncs and closes the file.
    func finish() throws(SinkError)
    /// The underlying file, for its name, size, digest and commit.
    var file: AtomicFile { get }
}

extension AtomicFile: ByteOutput {
    var file: AtomicFile { self }
}

/// Opens the output for `path`: gzip when it ends in `.gz`.
func makeByteOutput(
    path: String,
    runID: String,
    compressionLevel: Int32,
    mode: UInt32
) throws(SinkError) -> any ByteOutput {
    let file = try AtomicFile(path: path, runID: runID, mode: mode_t(mode))
    return path.hasSuffix(".gz") ? try GzipOutput(file: file, level: compressionLevel) : file
}
