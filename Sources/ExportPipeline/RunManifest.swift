import ExportSinks
import Foundation

/// `manifest.json`: what a committed run wrote and how complete each library is, for the people and
/// tools that pick the outputs up. Written after every output file is in place.
struct RunManifest: Encodable {
    struct Group: Encodable {
        let account: String
        let group_id: String
        /// The library's id as it appears in file names (see ``SafeFileName``).
        let file_name: String
        let status: String
        let expected: Int?
        let exported: Int
        let pages: Int
        let requests: Int
        let retries: Int
        let duplicates_dropped: Int
        let unreachable: Int?
        let error: String?
    }

    struct Totals: Encodable {
        let faces: Int
        let pages: Int
        let requests: Int
        let retries: Int
    }

    struct ShardInfo: Encodable {
        let index: Int
        let count: Int
    }

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
                expected: $0.expected,
                exported: $0.exported,
                pages: $0.pages,
                requests: $0.requests,
                retries: $0.retries,
                duplicates_dropped: $0.duplicatesDropped,
                unreachable: $0.unreachable,
                error: $0.error
            )
        }
        self.files = report.files
    }

    /// Writes the manifest atomically, then `_SUCCESS` beside it and beside every file if asked.
    func write(to path: String, markSuccess: Bool) throws(SinkError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and numbers cannot fail.
        let data = try! encoder.encode(self)
        try AtomicFileWriter.write(Array(data) + [0x0A], to: path, runID: self.run_id)
        guard markSuccess else { return }
        var folders = [Self.folder(of: path)]
        for file in self.files where !folders.contains(Self.folder(of: file.path)) {
            folders.append(Self.folder(of: file.path))
        }
        for folder in folders {
            try AtomicFileWriter.write([], to: folder + "/_SUCCESS", runID: self.run_id)
        }
    }

    private static func folder(of path: String) -> String {
        (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
    }
}
