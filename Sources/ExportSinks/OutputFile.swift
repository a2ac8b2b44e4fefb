import Foundation

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
    /// Whether a resumed run could continue the file from a checkpoint made now: a local file can;
    /// an upload once finished, or once its tail (the bytes waiting for their part, otherwise only
    /// in memory) is stored as it is now.
    var isResumable: Bool { get }
    /// Whether a resumed run can cut the file back to any length it had: a local file; not an
    /// upload, whose parts are sent.
    var canBeCutBack: Bool { get }
    /// Stores what only memory holds of the file, so that a checkpoint vouches for every byte.
    func storeTail() throws(SinkError)
    /// Whether a part was sent to object storage since the last call: a cheap moment to store the tail.
    func takeSentPart() -> Bool
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
    var canBeCutBack: Bool { true }
    func storeTail() throws(SinkError) {}
    func takeSentPart() -> Bool { false }
    var openUpload: (object: String, uploadID: String)? { nil }

    func prepared(_ summary: SinkSummary) -> PreparedFile {
        PreparedFile(temporaryPath: self.temporaryPath, summary: summary)
    }
}

extension FileCheckpoint {
    /// Notes `file`'s open upload, if it has one: its id, the parts sent since the previous
    /// checkpoint, and for a checkpoint that vouches for the file, the digest's state.
    mutating func note(_ file: any OutputFile) {
        guard let upload = file as? ObjectUpload else { return }
        let parts = upload.takePartsSinceCheckpoint()
        self.uploadParts = parts.isEmpty ? nil : parts
        self.object = upload.finalPath
        self.upload = upload.openUpload?.uploadID
        if self.isExact && !upload.isFinished {
            self.uploadDigest = upload.digestState.map { Data($0).base64EncodedString() }
        }
    }
}
