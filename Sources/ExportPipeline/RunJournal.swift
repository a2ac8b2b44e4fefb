public import ExportSinks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The run's progress, journaled page by page so an interrupted run can continue where it stopped.
///
/// One JSON object per line, appended after every sink has written (and checkpointed) a page:
/// - `run`: the run id and the fingerprint of the settings that shape the outputs;
/// - `page`: a library's walk position after the page, rows written, and each output's file checkpoint;
/// - `end`: a library's walk result and final checkpoints.
/// A torn last line (the process died while writing it) is ignored on reading.
final class RunJournal {
    struct Line: Codable {
        var type: String
        var run_id: String?
        var date: String?
        var fingerprint: String?
        /// When the run started, Unix ms: resumed runs keep `exported_at` and relative filter windows.
        var started_at: Int64?
        var account: String?
        var group_id: String?
        var position: WalkPosition?
        var result: GroupWalkResult?
        var written: Int?
        var filtered: Int?
        var requests: Int?
        var retries: Int?
        /// One entry per output, in the pipeline's order; nil where the output has no file for it yet.
        var files: [FileCheckpoint?]?
        /// The commit about to be carried out (`type` `commit`).
        var commit: CommitPlan?
    }

    let path: String
    private let descriptor: Int32

    /// Opens the journal for appending; `fresh` starts it over with a `run` line.
    init(
        path: String,
        runID: String,
        date: String,
        startedAt: Int64,
        fingerprint: String,
        fresh: Bool
    ) throws(SinkError) {
        self.path = path
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0)
        let descriptor = open(path, flags, 0o600)
        guard descriptor >= 0 else { throw .io("open the journal", path: path, errno: errno) }
        self.descriptor = descriptor
        if fresh {
            try self.append(
                Line(type: "run", run_id: runID, date: date, fingerprint: fingerprint, started_at: startedAt)
            )
        }
    }

    deinit { close(self.descriptor) }

    func append(_ line: Line) throws(SinkError) {
        // Plain values cannot fail to encode.
        var bytes = Self.pageLine(line) ?? Array(try! JSONEncoder().encode(line))
        bytes.append(0x0A)
        if let failure = bytes.withUnsafeBytes({ AtomicFileWriter.writeAll($0, to: self.descriptor) }) {
            throw .io("write the journal", path: self.path, errno: failure)
        }
    }

    /// A `page` line (a walk position, counts and checkpoints; no result, no commit) written directly:
    /// the line every page gets, with the page's thousand tokens, which `JSONEncoder` takes ten
    /// times as long over. The same JSON `JSONEncoder` would write, up to key order and spacing, so
    /// `JSONDecoder` reads it as it reads every other line. Nil for the other lines.
    static func pageLine(_ line: Line) -> [UInt8]? {
        guard let position = line.position, line.result == nil, line.commit == nil, line.run_id == nil,
            line.date == nil, line.fingerprint == nil, line.started_at == nil
        else { return nil }
        var out: [UInt8] = []
        let tokens = position.packedTokens
        out.reserveCapacity(tokens.count + 512)
        var first = true
        func field(_ name: StaticString) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        func text(_ value: String) { NDJSONEncoder.appendString(value, to: &out) }
        func number(_ value: Int) { out.append(contentsOf: String(value).utf8) }
        field("type")
        text(line.type)
        if let account = line.account {
            field("account")
            text(account)
        }
        if let group = line.group_id {
            field("group_id")
            text(group)
        }
        field("position")
        out.append(contentsOf: "{\"expected\":".utf8)
        number(position.expected)
        out.append(contentsOf: ",\"nextStart\":".utf8)
        number(position.nextStart)
        out.append(contentsOf: ",\"exported\":".utf8)
        number(position.exported)
        out.append(contentsOf: ",\"pages\":".utf8)
        number(position.pages)
        out.append(contentsOf: ",\"duplicatesDropped\":".utf8)
        number(position.duplicatesDropped)
        out.append(contentsOf: ",\"lastPageTokens\":".utf8)
        NDJSONEncoder.appendString(bytes: tokens, to: &out)
        if position.rewalking { out.append(contentsOf: ",\"rewalking\":true".utf8) }
        out.append(UInt8(ascii: "}"))
        if let written = line.written {
            field("written")
            number(written)
        }
        if let filtered = line.filtered {
            field("filtered")
            number(filtered)
        }
        if let requests = line.requests {
            field("requests")
            number(requests)
        }
        if let retries = line.retries {
            field("retries")
            number(retries)
        }
        if let files = line.files {
            field("files")
            out.append(UInt8(ascii: "["))
            for (index, file) in files.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                guard let file else {
                    out.append(contentsOf: "null".utf8)
                    continue
                }
                var firstKey = true
                func fileKey(_ name: String) {
                    out.append(contentsOf: (firstKey ? "{\"" : ",\"").utf8)
                    firstKey = false
                    out.append(contentsOf: name.utf8)
                    out.append(contentsOf: "\":".utf8)
                }
                if let account = file.account {
                    fileKey("account")
                    text(account)
                }
                if let group = file.group {
                    fileKey("group")
                    text(group)
                }
                fileKey("bytes")
                number(file.bytes)
                fileKey("rows")
                number(file.rows)
                fileKey("finished")
                out.append(contentsOf: (file.finished ? "true" : "false").utf8)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Removes the journal: the run committed, or failed for good.
    func remove() { unlink(self.path) }
}

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

    /// Reads the journal at `path`; nil when there is none or it has no `run` line.
    public static func read(path: String, outputs: Int) -> ResumeState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var runID: String?
        var date = ""
        var fingerprint = ""
        var startedAt: Int64 = 0
        var groups: [String: [String: Group]] = [:]
        var files: [[String: FileCheckpoint]] = Array(repeating: [:], count: outputs)
        let decoder = JSONDecoder()
        for line in data.split(separator: 0x0A) {
            guard let entry = try? decoder.decode(RunJournal.Line.self, from: Data(line)) else { continue }
            switch entry.type {
            case "run":
                runID = entry.run_id
                date = entry.date ?? ""
                fingerprint = entry.fingerprint ?? ""
                startedAt = entry.started_at ?? 0
            case "page", "end":
                guard let account = entry.account, let groupID = entry.group_id else { continue }
                var group =
                    groups[account]?[groupID]
                    ?? Group(position: nil, result: nil, written: 0, filtered: 0, requests: 0, retries: 0)
                if let position = entry.position { group.position = position }
                if let result = entry.result { group.result = result }
                group.written = entry.written ?? group.written
                group.filtered = entry.filtered ?? group.filtered
                group.requests = entry.requests ?? group.requests
                group.retries = entry.retries ?? group.retries
                groups[account, default: [:]][groupID] = group
                for (index, checkpoint) in (entry.files ?? []).enumerated() where index < outputs {
                    guard let checkpoint else { continue }
                    files[index]["\(checkpoint.account ?? "")\u{0}\(checkpoint.group ?? "")"] = checkpoint
                }
            default:
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
            files: files.map { Array($0.values) }
        )
    }
}
