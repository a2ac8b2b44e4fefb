import Foundation

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

/// Where an output's files are streamed when their path is `s3://bucket/key`.
struct UploadOptions {
    /// Bytes a part holds, but the last.
    var partSize = ObjectUpload.defaultPartSize
    /// Parts of one upload sent at once.
    var partsInFlight = 1
    /// Where an upload keeps its tail at a checkpoint that stores it; nil: uploads are not continued.
    var tailFolder: String?
}

extension OutputSink.Configuration {
    /// How this output's files are streamed when their path is `s3://bucket/key`.
    var uploadOptions: UploadOptions {
        UploadOptions(partSize: self.partSize, partsInFlight: self.partsInFlight, tailFolder: self.tailFolder)
    }
}

/// Opens the output for `path`: gzip when it ends in `.gz`; with `resume`, continues a file an
/// interrupted run left. An `s3://bucket/key` path is streamed to object storage as `uploads` says.
func makeByteOutput(
    path: String,
    runID: String,
    compression: GzipCompression,
    mode: UInt32,
    resume: FileCheckpoint? = nil,
    uploads: UploadOptions = UploadOptions(),
    steps: FileSteps = .direct
)
    throws(SinkError) -> any ByteOutput
{
    let file = try makeOutputFile(path: path, runID: runID, mode: mode, resume: resume, uploads: uploads, steps: steps)
    guard path.hasSuffix(".gz") else { return file }
    return try GzipOutput(file: file, compression: compression, continuing: (resume?.bytes ?? 0) > 0)
}

/// The file an output's bytes go to until the commit: a temporary file beside `path`, or an upload
/// to object storage for an `s3://bucket/key` path; with `resume`, the one an interrupted run left,
/// continued from its checkpoint.
func makeOutputFile(
    path: String,
    runID: String,
    mode: UInt32,
    resume: FileCheckpoint?,
    uploads: UploadOptions,
    steps: FileSteps
) throws(SinkError) -> any OutputFile {
    guard path.hasPrefix("s3://") else {
        return try AtomicFile(
            path: path,
            runID: runID,
            mode: mode_t(mode),
            resume: resume.map { AtomicFile.Resume(bytes: $0.bytes, sha256: $0.sha256) },
            steps: steps
        )
    }
    let continued = try resume.map { (checkpoint) throws(SinkError) in
        let state = checkpoint.uploadDigest.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) }
        guard let sha256 = checkpoint.sha256, state != nil || checkpoint.finished else {
            throw SinkError.damaged(
                "the upload to \(path)",
                "has a checkpoint that does not vouch for it",
                advice: "run without --resume to start over"
            )
        }
        return ObjectUpload.Resume(
            uploadID: checkpoint.upload,
            parts: checkpoint.uploadParts ?? [],
            bytes: checkpoint.bytes,
            sha256: sha256,
            digestState: state,
            finished: checkpoint.finished
        )
    }
    return try ObjectUpload(
        path: path,
        partSize: uploads.partSize,
        tailFolder: uploads.tailFolder,
        partsInFlight: uploads.partsInFlight,
        resume: continued,
        steps: steps
    )
}
