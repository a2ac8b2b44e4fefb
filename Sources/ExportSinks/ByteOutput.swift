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
    var file: any OutputFile { get }
}

extension OutputFile {
    /// Uncompressed bytes go to the file itself.
    var file: any OutputFile { self }
    func checkpoint() throws(SinkError) {}
}

/// Opens the output for `path`: gzip when it ends in `.gz`; with `resume`, continues a file an
/// interrupted run left. An `s3://bucket/key` path is streamed to object storage in parts of
/// `partSize`.
func makeByteOutput(
    path: String,
    runID: String,
    compression: GzipCompression,
    mode: UInt32,
    resume: AtomicFile.Resume? = nil,
    partSize: Int = ObjectUpload.defaultPartSize,
    steps: FileSteps = .direct
)
    throws(SinkError) -> any ByteOutput
{
    let file = try makeOutputFile(
        path: path,
        runID: runID,
        mode: mode,
        resume: resume,
        partSize: partSize,
        steps: steps
    )
    guard path.hasSuffix(".gz") else { return file }
    return try GzipOutput(file: file, compression: compression, continuing: (resume?.bytes ?? 0) > 0)
}

/// The file an output's bytes go to until the commit: a temporary file beside `path`, or an upload
/// to object storage for an `s3://bucket/key` path.
func makeOutputFile(
    path: String,
    runID: String,
    mode: UInt32,
    resume: AtomicFile.Resume?,
    partSize: Int,
    steps: FileSteps
) throws(SinkError) -> any OutputFile {
    guard path.hasPrefix("s3://") else {
        return try AtomicFile(path: path, runID: runID, mode: mode_t(mode), resume: resume, steps: steps)
    }
    if resume != nil {
        throw .damaged(
            "the upload to \(path)",
            "cannot be continued by this version",
            advice: "run without --resume to start over"
        )
    }
    return try ObjectUpload(path: path, partSize: partSize, steps: steps)
}
