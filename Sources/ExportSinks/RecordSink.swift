#if canImport(Glibc)
import Glibc
#endif

/// Where a batch of records comes from: all records of one batch belong to one library.
public struct RecordSource: Sendable, Hashable {
    /// The account's name.
    public var account: String
    /// The library's id.
    public var groupID: String

    /// Creates a source.
    public init(account: String, groupID: String) {
        self.account = account
        self.groupID = groupID
    }
}

/// A destination for records: files written under temporary names until the run commits.
///
/// - Important: A sink is used from one serial queue at a time; it is not thread-safe.
public protocol RecordSink: AnyObject {
    /// Appends the records of one page; they become visible only when the run commits.
    func write(_ records: RecordRows, from source: RecordSource) throws(SinkError)
    /// The library's walk is over: a sink with a file per library may finish that file now.
    func groupFinished(_ source: RecordSource) throws(SinkError)
    /// Finishes and syncs every file under its temporary name, ready to be renamed into place;
    /// returns them with what they hold. Renaming is the run's last step (`PreparedFile.install()`).
    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile]
    /// Removes the temporary files; previous outputs stay as they were.
    func discard()
    /// Makes the library's file durable so far and says how far it is, for the run's journal; nil
    /// when the sink keeps no file for it yet. `finished` after ``groupFinished(_:)``; `storing`
    /// when a file streamed to object storage should store the bytes waiting for their part, so
    /// that the checkpoint vouches for every row.
    func checkpoint(_ source: RecordSource, finished: Bool, storing: Bool) throws(SinkError) -> FileCheckpoint?
    /// Reopens the files an interrupted run of the same run id left, as its journal describes them.
    func resume(_ checkpoints: [FileCheckpoint]) throws(SinkError)
    /// Whether one of the sink's files ended a row group because it was full since the last call.
    func takeFilledRowGroup() -> Bool
    /// Whether one of the sink's files sent a part to object storage since the last call.
    func takeSentPart() -> Bool
    /// Ends the row group being built in each of the sink's open files that builds them, so that
    /// its checkpoint vouches for every row written to it.
    func endRowGroups() throws(SinkError)
}

extension RecordSink {
    public func groupFinished(_ source: RecordSource) throws(SinkError) {}
    public func checkpoint(_ source: RecordSource, finished: Bool, storing: Bool) throws(SinkError) -> FileCheckpoint? {
        nil
    }
    /// A checkpoint that stores nothing more than the sink's files keep anyway.
    public func checkpoint(_ source: RecordSource, finished: Bool) throws(SinkError) -> FileCheckpoint? {
        try self.checkpoint(source, finished: finished, storing: false)
    }
    public func takeSentPart() -> Bool { false }
    public func resume(_ checkpoints: [FileCheckpoint]) throws(SinkError) {}
}

/// How far one file of an output had got at a checkpoint: its partition, size and rows.
public struct FileCheckpoint: Sendable, Hashable, Codable {
    /// The account of a per-account file.
    public var account: String?
    /// The library of a per-library file.
    public var group: String?
    /// Bytes of a text file (SQLite: 0; its committed rows are the checkpoint).
    public var bytes: Int
    /// Rows written.
    public var rows: Int
    /// Whether the per-library file is complete.
    public var finished: Bool
    /// SHA-256 of the text file's first `bytes` bytes: a resumed run continues the file only if it
    /// still holds them. Nil in journals of earlier versions.
    public var sha256: String? = nil
    /// SQLite: the largest row id of the `faces` table at the checkpoint; a resumed run removes the
    /// rows added after it. Nil in journals of earlier versions.
    public var lastRowID: Int? = nil
    /// True when rows written since the file's previous checkpoint are not stored yet (a Parquet
    /// file takes them a row group at a time; an upload, a part at a time): the size and rows say
    /// how far writing got, nothing vouches for them, and a resumed run continues from an earlier
    /// checkpoint. Nil otherwise.
    public var pending: Bool? = nil
    /// Parquet: what the footer will say of the row groups written since the file's previous
    /// checkpoint, as the writer records them; a resumed run's checkpoint holds every row group's.
    /// Nil for other formats.
    public var parquetRowGroups: [String]? = nil

    /// A file streamed to object storage: its `s3://bucket/key` and the id of its upload, once the
    /// upload has begun, so that a later run can abort an upload this run left open. Nil otherwise.
    public var object: String? = nil
    public var upload: String? = nil
    /// A file streamed to object storage: the ETags of the parts sent since the file's previous
    /// checkpoint, in order (a resumed run's checkpoint holds every part's). Nil when none was.
    public var uploadParts: [String]? = nil
    /// A file streamed to object storage, at a checkpoint that vouches for it: the state of its
    /// SHA-256 after the parts' bytes (base64), which a resumed run takes up. Its tail, the bytes
    /// after the parts, is an object of the run's tail folder. Nil otherwise.
    public var uploadDigest: String? = nil

    /// Whether the checkpoint vouches for every row written to the file so far.
    public var isExact: Bool { self.pending != true }
}

/// What a run tells its sinks when it commits: enough for a SQLite file's `groups` and `runs` tables.
public struct CommitContext: Sendable {
    /// How one library's walk ended.
    public struct Group: Sendable {
        /// The account's name.
        public var account: String
        /// The library's id.
        public var groupID: String
        /// `complete`, `changed_during_export`, `incomplete`, `unverified` or `failed`, as the
        /// `groups` table records it.
        public var status: String
        /// Whether the library was walked to its end, so that a face of an earlier run not seen now is
        /// gone from it (`complete` or `unverified`): only then does a merge mark such faces removed.
        public var walkedToItsEnd: Bool
        /// The count `get_size` announced.
        public var expected: Int?
        /// Faces written.
        public var exported: Int
        /// Why it is not complete.
        public var error: String?
        /// The library's name, data and creation time (Unix ms), when `group_list` described it.
        public var groupName: String?
        public var groupData: String?
        public var groupAddTime: Int64?

        /// Creates a library's entry.
        public init(
            account: String,
            groupID: String,
            status: String,
            walkedToItsEnd: Bool,
            expected: Int?,
            exported: Int,
            error: String?,
            groupName: String? = nil,
            groupData: String? = nil,
            groupAddTime: Int64? = nil
        ) {
            self.account = account
            self.groupID = groupID
            self.status = status
            self.walkedToItsEnd = walkedToItsEnd
            self.expected = expected
            self.exported = exported
            self.error = error
            self.groupName = groupName
            self.groupData = groupData
            self.groupAddTime = groupAddTime
        }
    }

    /// The run's id.
    public var runID: String
    /// The pipeline's name.
    public var pipeline: String
    /// When the run started, RFC 3339 UTC.
    public var startedAt: String
    /// When the run ended, RFC 3339 UTC.
    public var finishedAt: String
    /// `complete` or `partial` (failed runs never commit).
    public var outcome: String
    /// Every library of the run.
    public var groups: [Group]
    /// Pages, requests and retries of the run.
    public var pages: Int
    public var requests: Int
    public var retries: Int

    /// Creates a context.
    public init(
        runID: String,
        pipeline: String,
        startedAt: String,
        finishedAt: String,
        outcome: String,
        groups: [Group],
        pages: Int,
        requests: Int,
        retries: Int
    ) {
        self.runID = runID
        self.pipeline = pipeline
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.groups = groups
        self.pages = pages
        self.requests = requests
        self.retries = retries
    }
}

/// One committed file.
public struct SinkSummary: Sendable, Hashable, Codable {
    /// The committed file.
    public var path: String
    /// The format name: `ndjson`, `csv` or `sqlite`.
    public var format: String
    /// Records written (for SQLite in `merge` mode: rows of this run).
    public var rows: Int
    /// Bytes on disk.
    public var bytes: Int
    /// SHA-256 of the file, lower-case hex.
    public var sha256: String
}

/// Why a sink could not write or commit.
public struct SinkError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case io(operation: String, path: String, errno: Int32)
        case compression(String)
        case sqlite(operation: String, path: String, message: String)
        case damaged(what: String, reason: String, advice: String)
        case storage(String)
        case value(String)
    }

    private let code: Code

    /// An I/O call failed with `errno`.
    public static func io(_ operation: String, path: String, errno: Int32) -> Self {
        Self(code: .io(operation: operation, path: path, errno: errno))
    }

    static func compression(_ reason: String) -> Self { Self(code: .compression(reason)) }

    /// Object storage refused or could not be reached; `reason` is the storage error's one line.
    public static func storage(_ reason: String) -> Self { Self(code: .storage(reason)) }

    /// A value the format cannot hold (an `add_date` that is not a date).
    static func value(_ reason: String) -> Self { Self(code: .value(reason)) }

    static func sqlite(_ operation: String, path: String, message: String) -> Self {
        Self(code: .sqlite(operation: operation, path: path, message: message))
    }

    /// Something an interrupted run left (a temporary file, its commit record) is not as it was
    /// left: `what` names it, `reason` says how.
    public static func damaged(
        _ what: String,
        _ reason: String,
        advice: String = "run without --resume to start over"
    ) -> Self {
        Self(code: .damaged(what: what, reason: reason, advice: advice))
    }

    /// What to do about a full disk, in every sink's words alike.
    static let diskFullAdvice = "free space there and run again"

    public var description: String {
        switch self.code {
        case .io(let operation, let path, let errno):
            "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
                + (errno == ENOSPC || errno == EDQUOT ? "; \(Self.diskFullAdvice)" : "")
        case .compression(let reason):
            "compression failed: \(reason)"
        case .storage(let reason):
            reason
        case .value(let reason):
            "cannot write \(reason)"
        case .sqlite(let operation, let path, let message):
            "SQLite could not \(operation) \(path): \(message)"
        case .damaged(let what, let reason, let advice):
            "\(what) \(reason); \(advice)"
        }
    }
}

/// A finished, synced file under its temporary name, waiting to be renamed into place.
public struct PreparedFile: Sendable, Codable {
    /// The temporary name.
    public var temporaryPath: String
    /// The file once in place.
    public var summary: SinkSummary
    /// The faces file of which partition this is (its account and library when the path template
    /// names them): the run checks its rows against what the walk handed that partition. Nil for a
    /// file that does not hold the export's faces (a SQLite output's changes file).
    public var partition: Partition?
    /// For a file streamed to object storage (its summary's path `s3://bucket/key`): the upload
    /// the commit completes. Nil for a file on disk.
    public var upload: Upload?

    /// A multipart upload whose parts are all sent.
    public struct Upload: Sendable, Hashable, Codable {
        /// The store's id for it.
        public var uploadID: String
        /// The ETags of its parts, in order.
        public var parts: [String]
    }

    /// The account and library a file's path is made for; nil where the template does not name them.
    public struct Partition: Sendable, Hashable, Codable {
        /// The account, for a `{account}` template.
        public var account: String?
        /// The library, for a `{group}` template.
        public var group: String?

        /// Creates a partition.
        public init(account: String?, group: String?) {
            self.account = account
            self.group = group
        }

    }

    /// Creates a prepared file.
    public init(temporaryPath: String, summary: SinkSummary, partition: Partition? = nil) {
        self.temporaryPath = temporaryPath
        self.summary = summary
        self.partition = partition
    }

    /// Renames the file into place (atomically) and syncs its folder; a file already in place (its
    /// temporary name gone, its final name there) counts as installed, so a crash-interrupted
    /// install can simply be repeated.
    public func install(steps: FileSteps = .direct) throws(SinkError) {
        if let upload = self.upload {
            guard let location = ObjectLocation(path: self.summary.path) else {
                throw .storage("cannot complete \(self.summary.path): it is not an s3://bucket/key path")
            }
            return try steps.completeUpload(
                location,
                uploadID: upload.uploadID,
                parts: upload.parts,
                bytes: self.summary.bytes
            )
        }
        let installed = access(self.temporaryPath, F_OK) != 0 && access(self.summary.path, F_OK) == 0
        if !installed { try AtomicFile.rename(self.temporaryPath, to: self.summary.path, steps: steps) }
    }

    /// Removes the file under its temporary name, or aborts its upload.
    public func discard(steps: FileSteps = .direct) {
        if let upload = self.upload {
            if let location = ObjectLocation(path: self.summary.path) {
                steps.abortUpload(location, uploadID: upload.uploadID)
            }
            return
        }
        steps.remove(self.temporaryPath)
    }
}
