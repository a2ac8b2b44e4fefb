import FaceExportCrypto

/// One output file streamed to object storage as a multipart upload: invisible until the commit
/// completes it, then whole at once.
///
/// Bytes wait in memory until they make a part of ``partSize`` bytes, which is sent at once; the
/// rest goes as the last part when the file is finished, so memory holds one part at most (a write
/// of a part or more, with nothing waiting, is sent from the writer's own bytes). A part must wait
/// whole: S3 wants every part but the last of 5 MiB or more (R2 wants them all of one size), and
/// only the end of the file tells which part is the last. The upload starts with the first part; a
/// failed or abandoned run aborts it (``discard()``), so that no part stays billed.
///
/// An upload can be continued by a resumed run: a checkpoint that stores the tail (``storeTail()``)
/// keeps the bytes waiting for their part as a small object in ``tailFolder``, and the digest's
/// state after the parts sent; with the parts' ETags that the journal collects, that is the whole
/// file so far. A resumed run reads the tail back, checks it against the checkpoint's SHA-256, and
/// sends the next part under the next number (a part the interrupted run sent after the checkpoint
/// is sent again, and replaced).
final class ObjectUpload: OutputFile {
    /// What a checkpoint that stored its tail says of the upload, for a resumed run to continue it.
    struct Resume {
        /// The upload's id; nil when no part was sent yet.
        var uploadID: String?
        /// The ETags of every part sent up to the checkpoint, in order.
        var parts: [String]
        /// Bytes of the file at the checkpoint.
        var bytes: Int
        /// SHA-256 of those bytes.
        var sha256: String
        /// The digest's state after the parts' bytes (``ResumableSHA256/savedState``); nil for a
        /// finished file, whose parts are all sent.
        var digestState: [UInt8]?
        /// Whether the file was finished (its last part sent).
        var finished: Bool
    }

    let location: ObjectLocation
    let finalPath: String
    /// Bytes a part holds at least, but the last (S3 wants 5 MiB or more).
    let partSize: Int
    /// Where tails are kept (`s3://bucket/prefix/`); nil when the upload is not to be continued.
    let tailFolder: String?
    private let steps: FileSteps
    private var uploadID: String?
    /// The ETags of the parts sent, in order (part numbers from 1).
    private var parts: [String] = []
    /// Parts sent since the last checkpoint: the journal's line for it names them.
    private var partsSinceCheckpoint = 0
    /// A part was sent since ``takeSentPart()`` last said so.
    private var sentPart = false
    /// The tails stored, oldest first: the last two are kept (the journal's last line that vouches
    /// for the file may name the one before the newest, until the newest's line is written).
    private var storedTails: [String] = []
    private var buffer: [UInt8] = []
    /// SHA-256 of the parts' bytes (the bytes waiting are added when the digest is asked for).
    private var digest: ResumableSHA256? = ResumableSHA256()
    private(set) var sha256 = ""
    private(set) var bytesWritten = 0

    /// The part size unless the output says otherwise: 16 MiB.
    static let defaultPartSize = 16 << 20

    /// The most parts an upload may have (S3's limit).
    static let maximumParts = 10_000

    /// An upload to `path` (`s3://bucket/key`), through `steps`' object store, in parts of
    /// `partSize`; with `resume`, the upload an interrupted run left, continued from its checkpoint.
    init(
        path: String,
        partSize: Int,
        tailFolder: String?,
        resume: Resume? = nil,
        steps: FileSteps
    ) throws(SinkError) {
        guard let location = ObjectLocation(path: path) else {
            throw .storage("cannot write \(path): it is not an s3://bucket/key path")
        }
        self.location = location
        self.finalPath = path
        self.partSize = partSize
        self.tailFolder = tailFolder
        self.steps = steps
        if let resume { try self.continue(resume) }
    }

    /// Whether a checkpoint now vouches for every byte written: the file is finished, or its tail
    /// is stored as it is now.
    var isResumable: Bool {
        guard let folder = self.tailFolder else { return false }
        return self.digest == nil
            || self.storedTails.last
                == ObjectUploadTail.path(folder: folder, object: self.finalPath, bytes: self.bytesWritten)
    }

    /// Whether the last part is sent and the SHA-256 known.
    var isFinished: Bool { self.digest == nil }
    var canBeCutBack: Bool { false }

    var openUpload: (object: String, uploadID: String)? { self.uploadID.map { (self.finalPath, $0) } }

    var sha256SoFar: String {
        guard var digest = self.digest else { return self.sha256 }
        self.buffer.withUnsafeBytes { digest.update($0) }
        return digest.hexDigestSoFar()
    }

    /// The ETags of the parts sent since the previous call, for the journal's next line.
    func takePartsSinceCheckpoint() -> [String] {
        defer { self.partsSinceCheckpoint = 0 }
        return Array(self.parts.suffix(self.partsSinceCheckpoint))
    }

    /// Whether a part was sent since the last call: the bytes waiting are few, so storing them is cheap.
    func takeSentPart() -> Bool {
        defer { self.sentPart = false }
        return self.sentPart
    }

    /// The digest's state after the parts sent, for a checkpoint that stores the tail.
    var digestState: [UInt8]? { self.digest?.savedState }

    /// Stores the bytes waiting for their part as a small object, so that a checkpoint now vouches
    /// for the whole file; the tail before the previous one is removed.
    func storeTail() throws(SinkError) {
        guard let folder = self.tailFolder, self.digest != nil else { return }
        let path = ObjectUploadTail.path(folder: folder, object: self.finalPath, bytes: self.bytesWritten)
        // Stored already: another library's line of the same store point.
        guard self.storedTails.last != path else { return }
        try self.steps.putObject(self.buffer, at: path)
        self.storedTails.append(path)
        while self.storedTails.count > 2 { self.steps.deleteObject(at: self.storedTails.removeFirst()) }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws(SinkError) {
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
        self.sha256 = self.digest?.hexDigestSoFar() ?? ""
        self.digest = nil
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

    /// Takes up the upload an interrupted run left, as its checkpoint describes it.
    private func `continue`(_ resume: Resume) throws(SinkError) {
        func damaged(_ what: String) -> SinkError {
            .damaged("the upload to \(self.finalPath)", what, advice: "run without --resume to start over")
        }
        self.uploadID = resume.uploadID
        self.parts = resume.parts
        self.bytesWritten = resume.bytes
        if resume.finished {
            self.sha256 = resume.sha256
            self.digest = nil
            return
        }
        let tailBytes = resume.bytes - resume.parts.count * self.partSize
        guard let folder = self.tailFolder, (0..<self.partSize).contains(tailBytes),
            let state = resume.digestState, var digest = ResumableSHA256(savedState: state)
        else { throw damaged("has a checkpoint that does not describe it") }
        let path = ObjectUploadTail.path(folder: folder, object: self.finalPath, bytes: resume.bytes)
        let tail = try self.steps.readObject(at: path)
        tail.withUnsafeBytes { digest.update($0) }
        guard tail.count == tailBytes, digest.hexDigestSoFar() == resume.sha256 else {
            throw damaged("has a stored tail (\(path)) that its checkpoint does not vouch for")
        }
        self.buffer.reserveCapacity(self.partSize)
        self.buffer.append(contentsOf: tail)
        self.digest = ResumableSHA256(savedState: state)
        self.storedTails = [path]
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
        self.digest?.update(body)
        self.partsSinceCheckpoint += 1
        self.sentPart = true
    }
}

/// Where an upload keeps its tail: the bytes waiting for their part at a checkpoint that stores them.
public enum ObjectUploadTail {
    /// The tail of the upload to `object` (`s3://bucket/key`) at `bytes` bytes, in `folder`
    /// (`s3://bucket/prefix/`, the run's own): named by a digest of the object's path and the size.
    public static func path(folder: String, object: String, bytes: Int) -> String {
        let name = Hex.encode(HMAC.sha256(key: [], message: Array(object.utf8)).prefix(12))
        return "\(folder)\(name)-\(bytes).tail"
    }
}
