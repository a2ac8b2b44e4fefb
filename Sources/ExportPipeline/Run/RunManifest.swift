public import ExportSinks
import FaceExportBuild
import FaceSearch
import Foundation

/// The manifest's format, as `manifest.json`'s `manifest_version` states it.
public enum ManifestFormat {
    /// The version this build writes and reads. Raised only when a field is removed, renamed or
    /// changes meaning; fields may be added within a version, so readers ignore ones they do not know.
    public static let version = 1
}

/// `manifest.json`: what a committed run wrote and how complete each library is, for the people and
/// tools that pick the outputs up. Written after every output file is in place.
struct RunManifest: Encodable {
    struct Group: Encodable {
        let account: String
        let group_id: String
        /// The library's id as it appears in file names (see ``SafeFileName``).
        let file_name: String
        let status: String
        /// Whether the library was edited while it was walked.
        let changed_during_export: Bool
        let expected: Int?
        let expected_after: Int?
        let exported: Int
        /// Faces the transform's filter left out.
        let filtered: Int
        let pages: Int
        let requests: Int
        let retries: Int
        let duplicates_dropped: Int
        /// Faces whose text was not valid UTF-8 as the API sent it, exported with U+FFFD in its place.
        let repaired_text: Int
        /// The first of their tokens; absent when none was repaired.
        let repaired_faces: [String]?
        let unreachable: Int?
        let error: String?
        /// What `group_list` said of the library, when the run discovered it.
        let group_name: String?
        let group_data: String?
        let group_add_time: String?
    }

    struct Totals: Encodable {
        let faces: Int
        let filtered: Int
        let repaired_text: Int
        let pages: Int
        let requests: Int
        let retries: Int
    }

    /// The program that wrote the run's files.
    struct Exporter: Encodable {
        let name: String
        let version: String
    }

    struct ShardInfo: Encodable {
        let index: Int
        let count: Int
    }

    /// The format's version (``ManifestFormat/version``).
    let manifest_version = ManifestFormat.version
    let exporter = Exporter(name: "faceexport", version: ExporterVersion.full)
    let run_id: String
    let pipeline: String
    let shard: ShardInfo?
    let started_at: String
    let finished_at: String
    let duration_seconds: Double
    let outcome: String
    let totals: Totals
    let account_errors: [String: String]
    let groups: [Group]
    let files: [SinkSummary]
    /// The records' columns, in order, with their types and sources.
    let schema: [RecordSchema.Column]
    /// SHA-256 of the `transform:` section, to tell which transform made the files.
    let transform_sha256: String

    init(report: RunReport) {
        self.run_id = report.runID
        self.pipeline = report.pipeline
        self.shard = report.shard.map { ShardInfo(index: $0.index, count: $0.count) }
        self.started_at = report.startedAt
        self.finished_at = report.finishedAt
        self.duration_seconds = (report.duration * 1000).rounded() / 1000
        self.outcome = report.outcome.rawValue
        self.totals = Totals(
            faces: report.faces,
            filtered: report.filtered,
            repaired_text: report.repairedText,
            pages: report.pages,
            requests: report.requests,
            retries: report.retries
        )
        self.account_errors = report.accountErrors
        self.groups = report.groups.map {
            Group(
                account: $0.account,
                group_id: $0.groupID,
                file_name: SafeFileName.make($0.groupID),
                status: $0.status.rawValue,
                changed_during_export: $0.changedDuringExport,
                expected: $0.expected,
                expected_after: $0.expectedAfter,
                exported: $0.exported,
                filtered: $0.filtered,
                pages: $0.pages,
                requests: $0.requests,
                retries: $0.retries,
                duplicates_dropped: $0.duplicatesDropped,
                repaired_text: $0.repairedText.count,
                repaired_faces: $0.repairedText.tokens.isEmpty ? nil : $0.repairedText.tokens,
                unreachable: $0.unreachable,
                error: $0.error,
                group_name: $0.info?.groupName,
                group_data: $0.info?.groupData,
                group_add_time: $0.info?.addTime.map(Timestamp.formatRFC3339UTC(milliseconds:))
            )
        }
        self.files = report.files
        self.schema = report.schema.columns
        self.transform_sha256 = report.transformDigest
    }

    /// The manifest as written: pretty, sorted JSON.
    var encoded: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and numbers cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The folders that get `_SUCCESS`: the manifest's and every file's.
    func successFolders(manifestPath: String) -> [String] {
        var folders = [Self.folder(of: manifestPath)]
        for file in self.files where !folders.contains(Self.folder(of: file.path)) {
            folders.append(Self.folder(of: file.path))
        }
        return folders
    }

    /// The folder of `path`: everything before its last `/` (`s3://bucket/a/b` → `s3://bucket/a`).
    private static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// The last step of a run, journaled before it starts so a crash in the middle can be finished:
/// rename every prepared file into place, then write the manifest and the `_SUCCESS` markers.
public struct CommitPlan: Sendable, Codable {
    /// The run's id.
    public var runID: String
    /// `complete` or `partial`.
    public var outcome: RunOutcome
    /// The files to rename into place.
    public var files: [PreparedFile]
    /// Where the manifest goes, if the run writes one.
    public var manifestPath: String?
    /// The manifest's text.
    public var manifest: String?
    /// Folders that get `_SUCCESS` (a complete run's only).
    public var successFolders: [String]

    /// Creates a plan.
    public init(
        runID: String,
        outcome: RunOutcome,
        files: [PreparedFile],
        manifestPath: String?,
        manifest: String?,
        successFolders: [String]
    ) {
        self.runID = runID
        self.outcome = outcome
        self.files = files
        self.manifestPath = manifestPath
        self.manifest = manifest
        self.successFolders = successFolders
    }

    /// Carries the plan out; safe to repeat after a crash (installed files are skipped).
    public func execute(steps: FileSteps = .direct) throws(SinkError) {
        for file in self.files { try file.install(steps: steps) }
        if let path = self.manifestPath, let manifest = self.manifest {
            try self.write(Array(manifest.utf8), to: path, steps: steps)
        }
        for folder in self.successFolders { try self.write([], to: folder + "/_SUCCESS", steps: steps) }
    }

    /// A small file written whole: on disk through a temporary file, in object storage in one call.
    private func write(_ bytes: [UInt8], to path: String, steps: FileSteps) throws(SinkError) {
        if path.hasPrefix("s3://") {
            try steps.putObject(bytes, at: path)
        } else {
            try AtomicFileWriter.write(bytes, to: path, runID: self.runID, steps: steps)
        }
    }

    /// Where the plan of the run journaled at `journalPath` is recorded.
    public static func path(forJournal journalPath: String) -> String { journalPath + ".commit" }

    /// Records the plan in its own file, synced and renamed into place, before it is carried out.
    func record(at path: String, steps: FileSteps) throws(SinkError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Plain values cannot fail to encode.
        try AtomicFileWriter.write(Array(try! encoder.encode(self)), to: path, runID: self.runID, steps: steps)
    }

    /// Finishes the commit a killed run had begun, as its recorded plan (or, from earlier versions, the
    /// last commit line among the trusted lines of its journal at `journalPath`) describes it, and
    /// removes the journal and the plan; nil when there is no commit to finish.
    public static func finishInterrupted(
        journalPath: String,
        steps: FileSteps = .direct
    ) throws(SinkError)
        -> CommitPlan?
    {
        let recorded = Self.path(forJournal: journalPath)
        let plan: CommitPlan
        if let data = FileManager.default.contents(atPath: recorded) {
            guard let decoded = try? JSONDecoder().decode(CommitPlan.self, from: data) else {
                throw .damaged(
                    "the commit record \(recorded)",
                    "cannot be read, so the interrupted commit cannot be finished",
                    advice: "remove it and run without --resume"
                )
            }
            plan = decoded
        } else if let journaled = RunJournal.read(path: journalPath)?.lines.lazy.reversed().compactMap(\.plan).first {
            plan = journaled
        } else {
            return nil
        }
        try plan.execute(steps: steps)
        steps.remove(journalPath)
        steps.remove(recorded)
        return plan
    }
}
