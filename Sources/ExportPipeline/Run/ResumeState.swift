public import ExportSinks

/// What an interrupted run's journal says: where to continue.
public struct ResumeState: Sendable {
    /// The progress of one library.
    public struct Group: Sendable {
        /// Where its walk stood, if it was under way.
        public var position: WalkPosition?
        /// How it ended, if it did.
        public var result: GroupWalkResult?
        /// Rows written.
        public var written: Int
        /// Faces the transform's filter left out.
        public var filtered: Int
        /// Calls made and retried.
        public var requests: Int
        public var retries: Int
        /// Faces whose text was repaired.
        public var repaired = RepairedText()
    }

    /// The interrupted run's id; the resumed run keeps it (its temporary files carry it).
    public let runID: String
    /// The interrupted run's `{date}`; the resumed run keeps it, so its files land in the same places.
    public let date: String
    /// The fingerprint of the settings the interrupted run used.
    public let fingerprint: String
    /// When the interrupted run started, Unix ms; the resumed run keeps it for its records.
    public let startedAt: Int64
    /// Libraries by account and id.
    public let groups: [String: [String: Group]]
    /// Per output (pipeline order), the last checkpoint of each of its files.
    public let files: [[FileCheckpoint]]

    /// The interrupted run's journal: how many of its bytes are trusted, and the CRC the next line
    /// continues from.
    public let journalLength: Int
    let journalChain: UInt32
    /// Where the journal is damaged and why, when a line before its end could not be trusted: the
    /// run continues from the lines before it.
    public let damage: String?

    /// Where the journal at `path` stops being trusted and why; nil when it is sound (a torn last
    /// line is sound: the process died while writing it) or there is none.
    public static func damage(path: String) -> String? {
        RunJournal.read(path: path).flatMap { Self.describeDamage($0, path: path) }
    }

    private static func describeDamage(_ contents: RunJournal.Contents, path: String) -> String? {
        contents.damage.map { "\(path) is damaged at byte \($0.offset) (\($0.reason))" }
    }

    /// Reads the journal at `path`; nil when there is none or it has no `run` line.
    public static func read(path: String, outputs: Int) -> ResumeState? {
        guard let contents = RunJournal.read(path: path) else { return nil }
        var runID: String?
        var date = ""
        var fingerprint = ""
        var startedAt: Int64 = 0
        var groups: [String: [String: Group]] = [:]
        var files: [[String: FileCheckpoint]] = Array(repeating: [:], count: outputs)
        for entry in contents.lines {
            switch entry {
            case .run(let start):
                runID = start.runID
                date = start.date
                fingerprint = start.fingerprint
                startedAt = start.startedAt ?? 0
            case .page(let entry), .end(let entry):
                var group =
                    groups[entry.account]?[entry.groupID]
                    ?? Group(position: nil, result: nil, written: 0, filtered: 0, requests: 0, retries: 0)
                if let position = entry.position { group.position = position }
                if let result = entry.result { group.result = result }
                group.written = entry.written ?? group.written
                group.filtered = entry.filtered ?? group.filtered
                group.requests = entry.requests ?? group.requests
                group.retries = entry.retries ?? group.retries
                if let count = entry.repaired {
                    group.repaired = RepairedText(count: count, tokens: entry.repairedTokens ?? [])
                }
                groups[entry.account, default: [:]][entry.groupID] = group
                for (index, checkpoint) in (entry.files ?? []).enumerated() where index < outputs {
                    guard let checkpoint else { continue }
                    files[index]["\(checkpoint.account ?? "")\u{0}\(checkpoint.group ?? "")"] = checkpoint
                }
            case .commit, .other:
                continue
            }
        }
        guard let runID else { return nil }
        return ResumeState(
            runID: runID,
            date: date,
            fingerprint: fingerprint,
            startedAt: startedAt,
            groups: groups,
            files: files.map { Array($0.values) },
            journalLength: contents.trustedLength,
            journalChain: contents.chain,
            damage: Self.describeDamage(contents, path: path)
        )
    }
}
