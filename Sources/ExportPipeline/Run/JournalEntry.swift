import ExportSinks

/// One line of the run's journal, by kind. The JSON keys are those every version has written, so
/// journals of earlier versions read as they were written.
enum JournalEntry: Codable {
    /// The first line: which run this is and under which settings.
    case run(RunStart)
    /// A library's progress after one of its pages.
    case page(LibraryProgress)
    /// A library's walk ended: its result and its files' last checkpoints.
    case end(LibraryProgress)
    /// The commit about to be carried out; written by earlier versions only (this one records it in
    /// a file of its own, ``CommitPlan/path(forJournal:)``).
    case commit(CommitPlan)
    /// A kind this version does not know, passed over.
    case other(String)

    /// The `run` line's fields.
    struct RunStart {
        var runID: String
        /// The run's `{date}`.
        var date: String
        /// The digest of the settings that shape the outputs.
        var fingerprint: String
        /// When the run started, Unix ms: resumed runs keep `exported_at` and relative filter windows.
        /// Absent in journals of early versions.
        var startedAt: Int64? = nil
    }

    /// A `page` or `end` line's fields: where a library's walk stands and what its files hold.
    struct LibraryProgress {
        var account: String
        var groupID: String
        var position: WalkPosition? = nil
        var result: GroupWalkResult? = nil
        var written: Int? = nil
        var filtered: Int? = nil
        var requests: Int? = nil
        var retries: Int? = nil
        /// One entry per output, in the pipeline's order; nil where the output has no file for it yet.
        var files: [FileCheckpoint?]? = nil
        /// Faces of the library whose text was repaired so far, and the first of their tokens.
        var repaired: Int? = nil
        var repairedTokens: [String]? = nil
    }

    private enum CodingKeys: String, CodingKey {
        case type, run_id, date, fingerprint, started_at, account, group_id, position, result, written, filtered
        case requests, retries, files, commit, repaired, repaired_tokens
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "run":
            self = .run(
                RunStart(
                    runID: try container.decode(String.self, forKey: .run_id),
                    date: try container.decodeIfPresent(String.self, forKey: .date) ?? "",
                    fingerprint: try container.decodeIfPresent(String.self, forKey: .fingerprint) ?? "",
                    startedAt: try container.decodeIfPresent(Int64.self, forKey: .started_at)
                )
            )
        case "page", "end":
            let progress = LibraryProgress(
                account: try container.decode(String.self, forKey: .account),
                groupID: try container.decode(String.self, forKey: .group_id),
                position: try container.decodeIfPresent(WalkPosition.self, forKey: .position),
                result: try container.decodeIfPresent(GroupWalkResult.self, forKey: .result),
                written: try container.decodeIfPresent(Int.self, forKey: .written),
                filtered: try container.decodeIfPresent(Int.self, forKey: .filtered),
                requests: try container.decodeIfPresent(Int.self, forKey: .requests),
                retries: try container.decodeIfPresent(Int.self, forKey: .retries),
                files: try container.decodeIfPresent([FileCheckpoint?].self, forKey: .files),
                repaired: try container.decodeIfPresent(Int.self, forKey: .repaired),
                repairedTokens: try container.decodeIfPresent([String].self, forKey: .repaired_tokens)
            )
            self = type == "end" ? .end(progress) : .page(progress)
        case "commit":
            self = .commit(try container.decode(CommitPlan.self, forKey: .commit))
        default:
            self = .other(type)
        }
    }

    /// The line as `JSONEncoder` writes it (``RunJournal/libraryLine(_:)`` writes `page` and `end`
    /// lines the same way, faster).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .run(let start):
            try container.encode("run", forKey: .type)
            try container.encode(start.runID, forKey: .run_id)
            try container.encode(start.date, forKey: .date)
            try container.encode(start.fingerprint, forKey: .fingerprint)
            try container.encodeIfPresent(start.startedAt, forKey: .started_at)
        case .page(let progress), .end(let progress):
            try container.encode(self.type, forKey: .type)
            try container.encode(progress.account, forKey: .account)
            try container.encode(progress.groupID, forKey: .group_id)
            try container.encodeIfPresent(progress.position, forKey: .position)
            try container.encodeIfPresent(progress.result, forKey: .result)
            try container.encodeIfPresent(progress.written, forKey: .written)
            try container.encodeIfPresent(progress.filtered, forKey: .filtered)
            try container.encodeIfPresent(progress.requests, forKey: .requests)
            try container.encodeIfPresent(progress.retries, forKey: .retries)
            try container.encodeIfPresent(progress.files, forKey: .files)
            try container.encodeIfPresent(progress.repaired, forKey: .repaired)
            try container.encodeIfPresent(progress.repairedTokens, forKey: .repaired_tokens)
        case .commit(let plan):
            try container.encode("commit", forKey: .type)
            try container.encode(plan, forKey: .commit)
        case .other(let type):
            try container.encode(type, forKey: .type)
        }
    }

    /// The line's `type`.
    var type: String {
        switch self {
        case .run: "run"
        case .page: "page"
        case .end: "end"
        case .commit: "commit"
        case .other(let type): type
        }
    }
}

extension JournalEntry {
    /// The fields of a `page` or `end` line.
    var progress: LibraryProgress? {
        switch self {
        case .page(let progress), .end(let progress): progress
        case .run, .commit, .other: nil
        }
    }

    /// The commit plan of a `commit` line.
    var plan: CommitPlan? {
        if case .commit(let plan) = self { plan } else { nil }
    }
}
