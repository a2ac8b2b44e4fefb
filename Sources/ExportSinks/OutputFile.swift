/// Where an output file's bytes go until the commit: a temporary file beside the final one
/// (``AtomicFile``) or a multipart upload to object storage (``ObjectUpload``). Nothing of it is
/// visible under its final name before the commit. Bytes written to it directly are its content
/// (a compressor writes to it otherwise: ``GzipOutput``).
protocol OutputFile: ByteOutput {
    /// Where the file appears at the commit: a path, or `s3://bucket/key`.
    var finalPath: String { get }
    /// Bytes written so far.
    var bytesWritten: Int { get }
    /// SHA-256 of the bytes written so far.
    var sha256SoFar: String { get }
    /// SHA-256 of the whole file, once finished.
    var sha256: String { get }
    /// Appends `buffer`.
    func write(_ buffer: UnsafeRawBufferPointer) throws(SinkError)
    /// Whether a resumed run can continue the file from a checkpoint: a local file can; an upload
    /// cannot yet (the bytes since its last part are only in memory, and the SHA-256 of its parts is
    /// not kept), so its checkpoints are pending and a resumed run sends it again.
    var isResumable: Bool { get }
    /// The file's upload to object storage, once begun: its `s3://bucket/key` and upload id.
    var openUpload: (object: String, uploadID: String)? { get }
    /// Stores the rest: the file is complete, waiting for the commit.
    func finish() throws(SinkError)
    /// The finished file, as the commit puts it in place.
    func prepared(_ summary: SinkSummary) -> PreparedFile
    /// Removes what was written (a temporary file, an upload's parts).
    func discard()
}

extension OutputFile {
    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError) {
        let failure: SinkError? = bytes.withUnsafeBytes { buffer in
            do throws(SinkError) { try self.write(buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }
}

extension AtomicFile: OutputFile {
    var isResumable: Bool { true }
    var openUpload: (object: String, uploadID: String)? { nil }

    func prepared(_ summary: SinkSummary) -> PreparedFile {
        PreparedFile(temporaryPath: self.temporaryPath, summary: summary)
    }
}

extension FileCheckpoint {
    /// Notes `file`'s open upload, if it has one.
    mutating func note(_ file: any OutputFile) {
        guard let upload = file.openUpload else { return }
        self.object = upload.object
        self.upload = upload.uploadID
    }
}
