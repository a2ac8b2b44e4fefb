import ExportPipeline
import ExportSinks
import Foundation
import Logging
import ObjectStorage

/// The run's state kept in object storage (`state: s3://BUCKET/PREFIX`), for a run in a pod whose
/// disk dies with it: a Kubernetes Job's retry on another node resumes where the dead pod stopped.
///
/// The lock is an object created only if none is there (`If-None-Match: *`), holding its holder
/// and an expiry that the run pushes forward while it lives; a lock whose expiry has passed is
/// taken over. The run works on a private local folder, as with a local `state:`; its journal and
/// commit record are copied to the bucket at every store point (where every file vouches for its
/// rows), at most every few seconds otherwise, once the commit is recorded, and at the end. A run
/// starts from the copies it finds.
final class BucketState: RunStateMirror, @unchecked Sendable {
    /// What the lock object holds.
    struct LockRecord: Codable {
        /// Who holds it: process, host, start.
        var holder: String
        /// Until when, Unix seconds, unless pushed forward.
        var expires: Double
    }

    /// `s3://BUCKET/PREFIX`, for messages.
    let location: String
    /// The private local folder the run keeps its state in.
    let localFolder: String
    private let store: ObjectStorageClient
    /// `PREFIX/.faceexport/`: where the objects are.
    private let folderKey: String
    /// `PREFIX/.faceexport/<pipeline>`: the objects' keys but their suffix.
    private let keyStem: String
    private let journalPath: String
    private let holder: String
    private let logger: Logger
    private let now: @Sendable () -> Date
    // `lastStored` and `renewal` are guarded by `mutex`.
    private let mutex = NSLock()
    private var lastStored: (bytes: Int, at: Date)?
    /// Whether the bucket may hold a commit record: one was fetched or stored. Until then a copy
    /// of the state need not remove one (a call saved at every copy).
    private var commitInBucket = false
    private var renewal: (any DispatchSourceTimer)?

    /// How long a lock lasts unless pushed forward; it is pushed forward every sixth of that. A
    /// killed pod's lock stops the next run (exit 5) for at most this long: a Job's retries, which
    /// back off from 10 s doubling, get through after it.
    static let lockLifetime = 120.0
    /// Seconds between two copies of the journal but at store points and the commit, at least (one
    /// more per MiB of journal, so that a large journal is not sent over and over).
    static let storeInterval = 5.0

    /// The state at `location` (`s3://BUCKET/PREFIX`) of the pipeline (shard) named `name`, through
    /// `store`, worked on in a fresh private folder.
    init(
        location: String,
        name: String,
        store: ObjectStorageClient,
        holder: String,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws(LaunchError) {
        var prefix = String(location.dropFirst(5).drop { $0 != "/" }.drop { $0 == "/" })
        while prefix.hasSuffix("/") { prefix.removeLast() }
        self.location = location
        self.store = store
        self.folderKey = (prefix.isEmpty ? "" : prefix + "/") + ".faceexport/"
        self.keyStem = self.folderKey + SafeFileName.make(name)
        self.holder = holder
        self.logger = logger
        self.now = now
        let temporary = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("faceexport-state-XXXXXX")
        var template = Array(temporary.path.utf8CString)
        guard let folder = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw LaunchError("cannot make a private folder for the run's state under \(NSTemporaryDirectory())")
        }
        self.localFolder = String(cString: folder)
        self.journalPath = self.localFolder + "/.faceexport/" + SafeFileName.make(name) + ".journal"
    }

    private var lockKey: String { self.keyStem + ".lock" }
    private var journalKey: String { self.keyStem + ".journal" }
    private var commitKey: String { self.keyStem + ".journal.commit" }
    private var commitPath: String { CommitPlan.path(forJournal: self.journalPath) }

    /// `s3://` path of `key`, for messages.
    private func path(_ key: String) -> String { "s3://\(self.store.bucket)/\(key)" }

    /// Takes the lock, or throws with exit 5 while another run holds it.
    func takeLock() throws(LaunchError) {
        do {
            if try self.createLock() { return self.startRenewing() }
            let held = try self.store.getWholeObject(self.lockKey).flatMap {
                try? JSONDecoder().decode(LockRecord.self, from: $0)
            }
            if let held, held.expires > self.now().timeIntervalSince1970 {
                throw LaunchError(
                    "another run of this pipeline holds the lock \(self.path(self.lockKey)) (\(held.holder)), "
                        + "until \(RunIdentity.format(Date(timeIntervalSince1970: held.expires), "yyyy-MM-dd'T'HH:mm:ss'Z'")) "
                        + "unless it ends first; remove the object if that run is known to be dead",
                    status: .lockHeld
                )
            }
            // Expired, or not a lock this version wrote: its run is dead.
            try self.store.deleteObject(self.lockKey)
            guard try self.createLock() else {
                throw LaunchError(
                    "another run of this pipeline took the expired lock \(self.path(self.lockKey)) first",
                    status: .lockHeld
                )
            }
            self.logger.warning(
                "took over a lock whose run is gone",
                metadata: ["lock": "\(self.path(self.lockKey))", "holder": "\(held?.holder ?? "unreadable")"]
            )
            self.startRenewing()
        } catch let error as LaunchError {
            throw error
        } catch {
            throw LaunchError("cannot take the lock \(self.path(self.lockKey)): \(error)", status: .failed)
        }
    }

    /// Creates the lock object if none is there; false when one is.
    private func createLock() throws(ObjectStorageError) -> Bool {
        do {
            try self.store.putObject(self.lockKey, body: self.lockRecord(), ifNoneMatch: true)
            return true
        } catch  where error.code == "PreconditionFailed" || error.status == 412 {
            return false
        }
    }

    private func lockRecord() -> Data {
        let record = LockRecord(holder: self.holder, expires: self.now().timeIntervalSince1970 + Self.lockLifetime)
        return (try? JSONEncoder().encode(record)) ?? Data()
    }

    /// Pushes the lock's expiry forward every sixth of its lifetime, on a queue of its own.
    private func startRenewing() {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "faceexport.state-lock"))
        timer.schedule(deadline: .now() + Self.lockLifetime / 6, repeating: Self.lockLifetime / 6)
        timer.setEventHandler { [self] in
            do {
                try self.store.putObject(self.lockKey, body: self.lockRecord())
            } catch {
                self.logger.warning(
                    "cannot push the lock's expiry forward",
                    metadata: ["lock": "\(self.path(self.lockKey))", "error": "\(error)"]
                )
            }
        }
        self.mutex.withLock { self.renewal = timer }
        timer.resume()
    }

    /// `text` with the local folder's state files named as the bucket's objects, for messages.
    func naming(_ text: String) -> String {
        text.replacingOccurrences(of: self.localFolder + "/.faceexport/", with: self.path(self.folderKey))
    }

    /// Copies the journal and the commit record the bucket holds into the local folder.
    func fetch() throws(LaunchError) {
        do {
            try FileManager.default.createDirectory(
                atPath: self.localFolder + "/.faceexport",
                withIntermediateDirectories: true
            )
            for (key, path) in [(self.journalKey, self.journalPath), (self.commitKey, self.commitPath)] {
                guard let content = try self.store.getWholeObject(key) else { continue }
                try content.write(to: URL(fileURLWithPath: path))
                if key == self.commitKey { self.mutex.withLock { self.commitInBucket = true } }
            }
        } catch let error as ObjectStorageError {
            throw LaunchError("cannot read the run's state in \(self.location): \(error)", status: .failed)
        } catch {
            throw LaunchError("cannot copy the run's state to \(self.localFolder): \(error)", status: .failed)
        }
    }

    func store(force: Bool) throws(SinkError) {
        let now = self.now()
        let bytes = (try? FileManager.default.attributesOfItem(atPath: self.journalPath)[.size] as? Int) ?? 0
        let due = self.mutex.withLock { () -> Bool in
            guard let last = self.lastStored else { return true }
            let wait = Self.storeInterval + Double(last.bytes) / Double(1 << 20)
            return last.bytes != bytes && now.timeIntervalSince(last.at) >= wait
        }
        guard force || due else { return }
        do {
            try self.copyState()
        } catch {
            throw .storage("cannot store the run's state in \(self.location): \(error)")
        }
        self.mutex.withLock { self.lastStored = (bytes, now) }
    }

    /// Copies the local journal and commit record to the bucket; one that is not there (any
    /// more) is removed from the bucket too.
    private func copyState() throws(ObjectStorageError) {
        if let journal = FileManager.default.contents(atPath: self.journalPath) {
            try self.store.putObject(self.journalKey, body: journal)
        } else {
            try self.store.deleteObject(self.journalKey)
        }
        if let commit = FileManager.default.contents(atPath: self.commitPath) {
            try self.store.putObject(self.commitKey, body: commit)
            self.mutex.withLock { self.commitInBucket = true }
        } else if self.mutex.withLock({ self.commitInBucket }) {
            try self.store.deleteObject(self.commitKey)
            self.mutex.withLock { self.commitInBucket = false }
        }
    }

    /// With `storing`, copies the state as the run leaves it (a journal to resume from, or none);
    /// then releases the lock and removes the local folder. A failure is a warning: the last copy
    /// stays, and the lock expires.
    func release(storing: Bool) {
        do {
            if storing { try self.copyState() }
        } catch {
            self.logger.warning(
                "cannot store the run's state as it ends; a resumed run starts from the last copy",
                metadata: ["state": "\(self.location)", "error": "\(error)"]
            )
        }
        self.mutex.withLock { self.renewal?.cancel() }
        do {
            try self.store.deleteObject(self.lockKey)
        } catch {
            self.logger.warning(
                "cannot remove the lock; it expires by itself",
                metadata: ["lock": "\(self.path(self.lockKey))", "error": "\(error)"]
            )
        }
        self.removeLocalFolder()
    }

    /// Removes the private local folder.
    func removeLocalFolder() {
        try? FileManager.default.removeItem(atPath: self.localFolder)
    }
}
