import FaceExportCrypto
import Foundation

/// One output file streamed to object storage as a multipart upload: invisible until the commit
/// completes it, then whole at once.
///
/// Bytes wait in memory until they make a part of ``partSize`` bytes, which is sent at once; the
/// rest goes as the last part when the file is finished. With one part in flight, the writer's
/// thread sends it and memory holds one part at most (a write of a part or more, with nothing
/// waiting, is sent from the writer's own bytes); with more, a ``PartSender`` sends them on threads
/// of its own while the next fills, each part holding its bytes until it has arrived. A part must wait
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
    /// Sends parts on threads of their own when more than one may be in flight; nil: each part is
    /// sent by the writer's thread before it goes on.
    private let sender: PartSender?
    private var uploadID: String?
    /// The ETags of the parts sent, in order (part numbers from 1).
    private var parts: [String] = []
    /// Parts a checkpoint has named: the journal's next line names those after them.
    private var journaledParts = 0
    /// Parts handed over to be sent (more than ``parts`` while some are in flight).
    private var partsHandedOver = 0
    /// A part was sent since ``takeSentPart()`` last said so.
    private var sentPart = false
    /// The tails stored, oldest first: the last two are kept (the journal's last line that vouches
    /// for the file may name the one before the newest, until the newest's line is written).
    private var storedTails: [String] = []
    /// The file's size when its last tail was stored.
    private var storedTailBytes: Int?
    /// ``sha256SoFar`` as last computed, and the size it was computed at.
    private var digestSoFar: (bytes: Int, hex: String)?
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
        partsInFlight: Int = 1,
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
        self.sender = partsInFlight > 1 ? PartSender(limit: partsInFlight) : nil
        if let resume { try self.continue(resume) }
    }

    /// Whether a checkpoint now vouches for every byte written: the file is finished, or its tail
    /// is stored as it is now.
    var isResumable: Bool {
        guard self.tailFolder != nil else { return false }
        return self.digest == nil || self.storedTailBytes == self.bytesWritten
    }

    /// Whether the last part is sent and the SHA-256 known.
    var isFinished: Bool { self.digest == nil }
    var canBeCutBack: Bool { false }

    var openUpload: (object: String, uploadID: String)? { self.uploadID.map { (self.finalPath, $0) } }

    var sha256SoFar: String {
        guard var digest = self.digest else { return self.sha256 }
        // Asked again for the same bytes (a store point checkpoints every library's line, each
        // naming the night's file): the waiting bytes, up to a part, are hashed once.
        if let cached = self.digestSoFar, cached.bytes == self.bytesWritten { return cached.hex }
        self.buffer.withUnsafeBytes { digest.update($0) }
        let hex = digest.hexDigestSoFar()
        self.digestSoFar = (self.bytesWritten, hex)
        return hex
    }

    /// The ETags of the parts sent since the previous call, for the journal's next line.
    func takePartsSinceCheckpoint() -> [String] {
        // Parts still in flight are named by a later checkpoint, in order: only those sent without
        // a gap count.
        if let sender = self.sender { self.parts = sender.sentWithoutGap(after: self.parts) }
        let journaled = self.journaledParts
        self.journaledParts = self.parts.count
        return Array(self.parts[journaled...])
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
        // Stored already: another library's line of the same store point.
        guard let folder = self.tailFolder, self.digest != nil, self.storedTailBytes != self.bytesWritten else {
            return
        }
        // The checkpoint vouches for the parts before the tail: they must all have arrived.
        try self.drain()
        let path = ObjectUploadTail.path(folder: folder, object: self.finalPath, bytes: self.bytesWritten)
        // Sent from the buffer itself: a tail may be most of a part.
        let result = self.buffer.withUnsafeBytes { body in
            Result { () throws(SinkError) in try self.steps.putObject(body, at: path) }
        }
        try result.get()
        self.storedTails.append(path)
        self.storedTailBytes = self.bytesWritten
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
        if !self.buffer.isEmpty || self.partsHandedOver == 0 { try self.sendWaitingPart() }
        try self.drain()
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
        // Parts in flight arrive or fail first: an abort before them would leave them billed.
        try? self.drain()
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
        self.journaledParts = resume.parts.count
        self.partsHandedOver = resume.parts.count
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
        self.storedTailBytes = resume.bytes
    }

    /// Sends the bytes waiting as the next part, and empties the buffer for the next one.
    private func sendWaitingPart() throws(SinkError) {
        if let sender = self.sender {
            // Handed over whole: the next part fills a buffer of its own.
            let part = self.buffer
            self.buffer = []
            return try self.handOver(part, to: sender)
        }
        let result = self.buffer.withUnsafeBytes { body in
            Result { () throws(SinkError) in try self.sendPart(body) }
        }
        try result.get()
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Sends `body` as the next part, starting the upload with the first; with a sender, on its
    /// threads (the bytes copied), else before returning.
    private func sendPart(_ body: UnsafeRawBufferPointer) throws(SinkError) {
        if let sender = self.sender { return try self.handOver([UInt8](body), to: sender) }
        let (uploadID, number) = try self.nextPart()
        self.parts.append(try self.steps.uploadPart(self.location, uploadID: uploadID, number: number, body: body))
        self.digest?.update(body)
    }

    /// Hands `part` to `sender` as the next part.
    private func handOver(_ part: [UInt8], to sender: PartSender) throws(SinkError) {
        let (uploadID, number) = try self.nextPart()
        part.withUnsafeBytes { self.digest?.update($0) }
        let (steps, location) = (self.steps, self.location)
        try sender.send(number: number) { () throws(SinkError) -> String in
            let result = part.withUnsafeBytes { body in
                Result { () throws(SinkError) in
                    try steps.uploadPart(location, uploadID: uploadID, number: number, body: body)
                }
            }
            return try result.get()
        }
    }

    /// The upload's id (started with the first part) and the next part's number, counted as sent.
    private func nextPart() throws(SinkError) -> (uploadID: String, number: Int) {
        guard self.partsHandedOver < Self.maximumParts else {
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
        self.partsHandedOver += 1
        self.sentPart = true
        return (uploadID, self.partsHandedOver)
    }

    /// Waits for the parts in flight; the first that failed fails the upload.
    private func drain() throws(SinkError) {
        guard let sender = self.sender else { return }
        try sender.drain()
        self.parts = sender.sentWithoutGap(after: self.parts)
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

/// Sends an upload's parts on threads of its own, at most `limit` at once, and keeps their ETags.
final class PartSender: @unchecked Sendable {
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "faceexport.upload-parts", attributes: .concurrent)
    // `etags` and `failure` are guarded by `mutex`.
    private let mutex = NSLock()
    private var etags: [Int: String] = [:]
    private var failure: SinkError?

    init(limit: Int) {
        self.slots = DispatchSemaphore(value: limit)
    }

    /// Sends part `number` with `call` once fewer than `limit` parts are in flight; throws the
    /// failure of a part sent before.
    func send(number: Int, _ call: @escaping @Sendable () throws(SinkError) -> String) throws(SinkError) {
        try self.check()
        self.slots.wait()
        self.group.enter()
        self.queue.async {
            defer {
                self.slots.signal()
                self.group.leave()
            }
            do throws(SinkError) {
                let etag = try call()
                self.mutex.withLock { self.etags[number] = etag }
            } catch {
                self.mutex.withLock { self.failure = self.failure ?? error }
            }
        }
    }

    /// Waits until no part is in flight; throws the first failure.
    func drain() throws(SinkError) {
        self.group.wait()
        try self.check()
    }

    /// `known` and the ETags of the parts sent after them with no part missing between.
    func sentWithoutGap(after known: [String]) -> [String] {
        self.mutex.withLock {
            var parts = known
            while let etag = self.etags[parts.count + 1] { parts.append(etag) }
            return parts
        }
    }

    private func check() throws(SinkError) {
        if let failure = self.mutex.withLock({ self.failure }) { throw failure }
    }
}
