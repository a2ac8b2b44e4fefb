import FaceExportCrypto

/// One output file streamed to object storage as a multipart upload: invisible until the commit
/// completes it, then whole at once.
///
/// Bytes wait in memory until they make a part of ``partSize`` bytes, which is sent at once; the
/// rest goes as the last part when the file is finished, so memory holds one part at most (a write
/// of a part or more, with nothing waiting, is sent from the writer's own bytes). A part must wait
/// whole: S3 wants every part but the last of 5 MiB or more, and only the end of the file tells
/// which part is the last, so a part cannot be sent before its bytes are all there. The upload
/// starts with the first part; a failed or abandoned run aborts it (``discard()``), so that no part
/// stays billed. (Parts end anywhere: a resumed run does not continue an upload, it sends the file
/// again.)
final class ObjectUpload: OutputFile {
    let location: ObjectLocation
    let finalPath: String
    /// Bytes a part holds at least, but the last (S3 wants 5 MiB or more).
    let partSize: Int
    private let steps: FileSteps
    private var uploadID: String?
    /// The ETags of the parts sent, in order (part numbers from 1).
    private var parts: [String] = []
    private var buffer: [UInt8] = []
    private var digest: SHA256Digest? = SHA256Digest()
    private(set) var sha256 = ""
    private(set) var bytesWritten = 0

    /// The part size unless the output says otherwise: 16 MiB.
    static let defaultPartSize = 16 << 20

    /// The most parts an upload may have (S3's limit).
    static let maximumParts = 10_000

    /// An upload to `path` (`s3://bucket/key`), through `steps`' object store, in parts of `partSize`.
    init(path: String, partSize: Int, steps: FileSteps) throws(SinkError) {
        guard let location = ObjectLocation(path: path) else {
            throw .storage("cannot write \(path): it is not an s3://bucket/key path")
        }
        self.location = location
        self.finalPath = path
        self.partSize = partSize
        self.steps = steps
    }

    var isResumable: Bool { false }

    var openUpload: (object: String, uploadID: String)? { self.uploadID.map { (self.finalPath, $0) } }

    var sha256SoFar: String { self.digest?.hexDigestSoFar() ?? self.sha256 }

    func write(_ buffer: UnsafeRawBufferPointer) throws(SinkError) {
        self.digest?.update(buffer)
        self.bytesWritten += buffer.count
        var rest = buffer
        while !rest.isEmpty {
            // Nothing waiting and a part's worth given: sent from the caller's bytes, not copied.
            if self.buffer.isEmpty && rest.count >= self.partSize {
                try self.sendPart(UnsafeRawBufferPointer(rebasing: rest.prefix(self.partSize)))
                rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(self.partSize))
                continue
            }
            // Never more than a part waits: the buffer is reserved once, at its size.
            if self.buffer.capacity < self.partSize { self.buffer.reserveCapacity(self.partSize) }
            let taken = min(rest.count, self.partSize - self.buffer.count)
            self.buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest.prefix(taken)))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(taken))
            if self.buffer.count == self.partSize { try self.sendWaitingPart() }
        }
    }

    func finish() throws(SinkError) {
        guard self.digest != nil else { return }
        // The last part may be of any size; a file of no bytes is one empty part.
        if !self.buffer.isEmpty || self.parts.isEmpty { try self.sendWaitingPart() }
        self.sha256 = self.digest.take()?.hexDigest() ?? ""
        self.buffer = []
    }

    func prepared(_ summary: SinkSummary) -> PreparedFile {
        var file = PreparedFile(temporaryPath: "\(self.finalPath) (upload \(self.uploadID ?? ""))", summary: summary)
        file.upload = PreparedFile.Upload(uploadID: self.uploadID ?? "", parts: self.parts)
        return file
    }

    func discard() {
        if let uploadID = self.uploadID { self.steps.abortUpload(self.location, uploadID: uploadID) }
        self.uploadID = nil
        self.parts = []
        self.buffer = []
    }

    /// Sends the bytes waiting as the next part, and empties the buffer for the next one.
    private func sendWaitingPart() throws(SinkError) {
        let result = self.buffer.withUnsafeBytes { body in
            Result { () throws(SinkError) in try self.sendPart(body) }
        }
        try result.get()
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Sends `body` as the next part, starting the upload with the first.
    private func sendPart(_ body: UnsafeRawBufferPointer) throws(SinkError) {
        guard self.parts.count < Self.maximumParts else {
            throw .storage(
                "cannot write \(self.finalPath): it would take more than \(Self.maximumParts) parts; "
                    + "raise the part size"
            )
        }
        let uploadID: String
        if let started = self.uploadID {
            uploadID = started
        } else {
            uploadID = try self.steps.startUpload(self.location)
            self.uploadID = uploadID
        }
        let number = self.parts.count + 1
        self.parts.append(try self.steps.uploadPart(self.location, uploadID: uploadID, number: number, body: body))
    }
}
