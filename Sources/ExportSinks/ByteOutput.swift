#if canImport(Glibc)
import Glibc
#endif

/// Where an encoder's bytes go: the file itself, or a compressor in front of it.
protocol ByteOutput: AnyObject {
    /// Accepts bytes; may buffer them.
    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError)
    /// Writes whatever is buffered, ends the compressed stream, and syncs and closes the file.
    func finish() throws(SinkError)
    /// Makes the bytes written so far a complete prefix that a resumed run can append to.
    func checkpoint() throws(SinkError)
    /// The underlying file, for its name, size, digest and commit.
    var file: AtomicFile { get }
}

extension AtomicFile: ByteOutput {
    var file: AtomicFile { self }
    func checkpoint() throws(SinkError) {}
}

/// Opens the output for `path`: gzip when it ends in `.gz`; with `resume`, continues a file an
/// interrupted run left.
func makeByteOutput(
    path: String,
    runID: String,
    compression: GzipCompression,
    mode: UInt32,
    resume: AtomicFile.Resume? = nil,
    steps: FileSteps = .direct
)
    throws(SinkError) -> any ByteOutput
{
    let file = try AtomicFile(path: path, runID: runID, mode: mode_t(mode), resume: resume, steps: steps)
    return path.hasSuffix(".gz")
        ? try GzipOutput(file: file, compression: compression, continuing: (resume?.bytes ?? 0) > 0) : file
}
