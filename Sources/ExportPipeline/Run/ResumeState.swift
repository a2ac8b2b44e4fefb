public import ExportSinks

/// What an interrupted run's journal says: where to continue.
/// An upload to object storage a journal names: the object's `s3://bucket/key` and the upload's id.
public struct OpenUpload: Sendable, Hashable {
    /// `s3://bucket/key`.
    public var object: String
    /// The store's id for the upload.
    public var uploadID: String
}

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

    /// The journal the resumed run continues: its `run` line and one line per library that keeps
    /// its progress, with the checkpoints of its files it continues from (``JournalCut``).
    let journalLines: [JournalEntry]
    /// The uploads to object storage the journal names, each once: the interrupted run's, which
    /// the next run aborts, but for those a resumed run continues (``continuedUploads``).
    public let openUploads: [OpenUpload]
    /// The uploads a resumed run continues, and the tails (`s3://` paths of the run's tail folder)
    /// they continue from.
    public let continuedUploads: Set<String>
    public let continuedTails: Set<String>
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

    /// Reads the journal at `path`; nil when there is none or it has no `run` line. `tails`: for
    /// outputs in object storage, given the interrupted run's id, the folder of its tails and the
    /// tails there, so that an upload's checkpoint whose tail is gone is not continued from.
    public static func read(
        path: String,
        outputs: Int,
        tails findTails: (_ runID: String) -> (folder: String, stored: Set<String>)? = { _ in nil }
    ) -> ResumeState? {
        guard var contents = RunJournal.read(path: path) else { return nil }
        var run: JournalEntry.RunStart?
        for case .run(let start) in contents.lines {
            run = start
            break
        }
        guard let run else { return nil }
        let tails = findTails(run.runID)
        if let tails { contents.lines = contents.lines.map { Self.withoutLostTails($0, tails) } }
        let cut = JournalCut(contents.lines, outputs: outputs)

        // Each file continues from its checkpoint line, with every row group written up to it; every
        // upload any line names is noted, for the next run to abort.
        // An upload's parts and a Parquet file's row groups add up line by line, up to the line the
        // file continues from (pending lines too: a part is sent whenever its bytes are there).
        var files: [JournalCut.FileKey: FileCheckpoint] = [:]
        var rowGroups: [JournalCut.FileKey: [String]] = [:]
        var parts: [JournalCut.FileKey: [String]] = [:]
        var uploads: [OpenUpload] = []
        for (index, line) in contents.lines.enumerated() {
            for (output, checkpoint) in (line.progress?.files ?? []).enumerated() where output < outputs {
                guard let checkpoint else { continue }
                if let object = checkpoint.object, let uploadID = checkpoint.upload,
                    !uploads.contains(OpenUpload(object: object, uploadID: uploadID))
                {
                    uploads.append(OpenUpload(object: object, uploadID: uploadID))
                }
                let file = JournalCut.FileKey(output: output, checkpoint)
                guard let from = cut.continuesFrom[file], index <= from else { continue }
                parts[file, default: []] += checkpoint.uploadParts ?? []
                // Only a line that vouched for its file carries row groups; it still does when its
                // upload's tail is gone since (it then no longer counts as a place to continue from).
                rowGroups[file, default: []] += checkpoint.parquetRowGroups ?? []
                guard checkpoint.isExact else { continue }
                if index == from { files[file] = checkpoint }
            }
        }
        for (file, groups) in rowGroups where !groups.isEmpty { files[file]?.parquetRowGroups = groups }
        for (file, sent) in parts where !sent.isEmpty { files[file]?.uploadParts = sent }
        let continuedUploads = Set(files.values.compactMap(\.upload))
        let continuedTails = Set(
            files.values.compactMap { checkpoint in
                tails.flatMap { tails in
                    checkpoint.uploadDigest == nil ? nil : Self.tailPath(of: checkpoint, in: tails.folder)
                }
            }
        )

        // Each library as its kept lines leave it, and the journal's line that says so.
        var groups: [String: [String: Group]] = [:]
        var journalLines = [JournalEntry.run(run)]
        var carried: Set<JournalCut.FileKey> = []
        for library in cut.libraryLines.keys.sorted(by: { ($0.account, $0.groupID) < ($1.account, $1.groupID) }) {
            var group = Group(position: nil, result: nil, written: 0, filtered: 0, requests: 0, retries: 0)
            var summary: JournalEntry.LibraryProgress?
            var ended = false
            for index in cut.keptLines(of: library) {
                guard let entry = contents.lines[index].progress else { continue }
                if let position = entry.position { group.position = position }
                if let result = entry.result { group.result = result }
                group.written = entry.written ?? group.written
                group.filtered = entry.filtered ?? group.filtered
                group.requests = entry.requests ?? group.requests
                group.retries = entry.retries ?? group.retries
                if let count = entry.repaired {
                    group.repaired = RepairedText(count: count, tokens: entry.repairedTokens ?? [])
                }
                if case .end = contents.lines[index] { ended = true }
                summary = entry
            }
            guard var summary else { continue }
            groups[library.account, default: [:]][library.groupID] = group
            summary.position = group.position
            summary.result = group.result
            summary.written = group.written
            summary.filtered = group.filtered
            summary.requests = group.requests
            summary.retries = group.retries
            summary.repaired = group.repaired.count == 0 ? nil : group.repaired.count
            summary.repairedTokens = group.repaired.tokens.isEmpty ? nil : group.repaired.tokens
            summary.files = summary.files?.enumerated().map { output, checkpoint in
                guard let checkpoint else { return nil }
                guard var continued = files[JournalCut.FileKey(output: output, checkpoint)] else { return nil }
                // A file's row groups and parts go into the first line that names it: they add up
                // line by line.
                if !carried.insert(JournalCut.FileKey(output: output, checkpoint)).inserted {
                    continued.parquetRowGroups = nil
                    continued.uploadParts = nil
                }
                return continued
            }
            journalLines.append(ended ? .end(summary) : .page(summary))
        }
        var perOutput: [[FileCheckpoint]] = Array(repeating: [], count: outputs)
        for (file, checkpoint) in files { perOutput[file.output].append(checkpoint) }
        return ResumeState(
            runID: run.runID,
            date: run.date,
            fingerprint: run.fingerprint,
            startedAt: run.startedAt ?? 0,
            groups: groups,
            files: perOutput,
            journalLines: journalLines,
            openUploads: uploads,
            continuedUploads: continuedUploads,
            continuedTails: continuedTails,
            damage: Self.describeDamage(contents, path: path)
        )
    }

    /// The tail an upload's checkpoint continues from, in `folder`; nil for a checkpoint of no upload.
    private static func tailPath(of checkpoint: FileCheckpoint, in folder: String) -> String? {
        checkpoint.object.map { ObjectUploadTail.path(folder: folder, object: $0, bytes: checkpoint.bytes) }
    }

    /// `line` with every upload checkpoint whose tail is not among `tails` pending: it cannot be
    /// continued from (the tail was removed as older than the two last, or never stored).
    private static func withoutLostTails(
        _ line: JournalEntry,
        _ tails: (folder: String, stored: Set<String>)
    )
        -> JournalEntry
    {
        guard var progress = line.progress, let files = progress.files else { return line }
        progress.files = files.map { checkpoint in
            guard var checkpoint, checkpoint.isExact, checkpoint.uploadDigest != nil else { return checkpoint }
            guard let tail = Self.tailPath(of: checkpoint, in: tails.folder), tails.stored.contains(tail) else {
                checkpoint.pending = true
                checkpoint.uploadDigest = nil
                return checkpoint
            }
            return checkpoint
        }
        switch line {
        case .end: return .end(progress)
        default: return .page(progress)
        }
    }
}
