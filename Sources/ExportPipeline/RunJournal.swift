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
        var bytes = Self.libraryLine(line) ?? Array(try! JSONEncoder().encode(line))
        bytes.append(0x0A)
        if let failure = bytes.withUnsafeBytes({ AtomicFileWriter.writeAll($0, to: self.descriptor) }) {
            throw .io("write the journal", path: self.path, errno: failure)
        }
    }

    /// A library's `page` or `end` line (a walk position or result, counts and checkpoints; no
    /// commit, none of the run's fields) written directly: the lines every page and every library
    /// get, a page's with its thousand tokens, which `JSONEncoder` takes ten times as long over. The
    /// same JSON `JSONEncoder` would write, up to key order and spacing, so `JSONDecoder` reads it as
    /// it reads every other line. Nil for the other lines.
    static func libraryLine(_ line: Line) -> [UInt8]? {
        guard line.commit == nil, line.run_id == nil, line.date == nil, line.fingerprint == nil,
            line.started_at == nil
        else { return nil }
        let tokens = line.position?.packedTokens ?? []
        var object = JSONObjectWriter(capacity: tokens.count + 512)
        object.text("type", line.type)
        object.text("account", line.account)
        object.text("group_id", line.group_id)
        if let position = line.position {
            object.object("position") { members in
                members.number("expected", position.expected)
                members.number("nextStart", position.nextStart)
                members.number("exported", position.exported)
                members.number("pages", position.pages)
                members.number("duplicatesDropped", position.duplicatesDropped)
                members.text("lastPageTokens", bytes: tokens)
                if position.rewalking { members.flag("rewalking", true) }
            }
        }
        if let result = line.result {
            object.object("result") { members in
                members.text("status", result.status.rawValue)
                members.number("expected", result.expected)
                members.number("expectedAfter", result.expectedAfter)
                members.number("exported", result.exported)
                members.number("pages", result.pages)
                members.number("duplicatesDropped", result.duplicatesDropped)
                members.number("unreachable", result.unreachable)
                members.text("error", result.error)
                members.flag("changedDuringExport", result.changedDuringExport)
            }
        }
        object.number("written", line.written)
        object.number("filtered", line.filtered)
        object.number("requests", line.requests)
        object.number("retries", line.retries)
        if let files = line.files {
            object.array("files", files) { members, file in
                members.text("account", file.account)
                members.text("group", file.group)
                members.number("bytes", file.bytes)
                members.number("rows", file.rows)
                members.flag("finished", file.finished)
            }
        }
        return object.finished()
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

/// One JSON object written member by member, in order; nil values are left out, as `JSONEncoder`
/// leaves them out.
struct JSONObjectWriter {
    private var bytes: [UInt8]
    private var empty = true

    init(capacity: Int = 256) {
        self.bytes = []
        self.bytes.reserveCapacity(capacity)
        self.bytes.append(UInt8(ascii: "{"))
    }

    private init(continuing bytes: [UInt8]) {
        self.bytes = bytes
        self.bytes.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ name: String) {
        if !self.empty { self.bytes.append(UInt8(ascii: ",")) }
        self.bytes.append(UInt8(ascii: "\""))
        self.empty = false
        self.bytes.append(contentsOf: name.utf8)
        self.bytes.append(contentsOf: "\":".utf8)
    }

    mutating func text(_ name: String, _ value: String?) {
        guard let value else { return }
        self.key(name)
        NDJSONEncoder.appendString(value, to: &self.bytes)
    }

    /// A text member whose value is given as UTF-8 bytes.
    mutating func text(_ name: String, bytes value: [UInt8]) {
        self.key(name)
        NDJSONEncoder.appendString(bytes: value, to: &self.bytes)
    }

    mutating func number(_ name: String, _ value: Int?) {
        guard let value else { return }
        self.key(name)
        self.bytes.append(contentsOf: String(value).utf8)
    }

    mutating func flag(_ name: String, _ value: Bool) {
        self.key(name)
        self.bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A member that is an object, its members written by `fill`.
    mutating func object(_ name: String, _ fill: (inout JSONObjectWriter) -> Void) {
        self.key(name)
        var nested = JSONObjectWriter(continuing: self.take())
        fill(&nested)
        self.bytes = nested.finished()
    }

    /// A member that is an array of objects (`null` for nil elements), each written by `fill`.
    mutating func array<Element>(
        _ name: String,
        _ elements: [Element?],
        _ fill: (inout JSONObjectWriter, Element) -> Void
    ) {
        self.key(name)
        self.bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { self.bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                self.bytes.append(contentsOf: "null".utf8)
                continue
            }
            var nested = JSONObjectWriter(continuing: self.take())
            fill(&nested, element)
            self.bytes = nested.finished()
        }
        self.bytes.append(UInt8(ascii: "]"))
    }

    /// The object's bytes, closed (the writer is used up: its bytes are not copied).
    consuming func finished() -> [UInt8] {
        self.bytes.append(UInt8(ascii: "}"))
        return self.bytes
    }

    /// Hands the bytes over to a nested writer without copying them.
    private mutating func take() -> [UInt8] {
        let bytes = self.bytes
        self.bytes = []
        return bytes
    }
}
