import ExportSinks
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The run's progress, journaled page by page so an interrupted run can continue where it stopped.
///
/// One JSON object per line (a ``JournalEntry``), appended after every sink has written (and
/// checkpointed) a page:
/// - `run`: the run id and the fingerprint of the settings that shape the outputs;
/// - `page`: a library's walk position after the page, rows written, and each output's file checkpoint;
/// - `end`: a library's walk result and final checkpoints.
/// Each line ends with `"crc":"<8 hex digits>"`: the CRC-32 of the line's bytes before that
/// member, continuing from the previous line's CRC, so a damaged, missing or reordered line breaks
/// the chain. Reading trusts the lines before the first one that does not decode or does not match
/// (``RunJournal/Contents``); a torn last line (the process died while writing it) is the normal end
/// of an interrupted journal. Journals of earlier versions (no CRC) are read line by line as written.
final class RunJournal {
    let path: String
    private let descriptor: Int32
    private let steps: FileSteps
    /// The CRC of the last line written: the next line's CRC continues from it.
    private var chain: UInt32

    /// Opens the journal for appending: a new one with a `run` line, or with `continuing`, the
    /// interrupted run's, rewritten as the resumed run continues it (one line per library, with the
    /// checkpoints it continues from: ``JournalCut``), so what is appended now follows lines the
    /// reader trusts and agrees with the files as the resumed run cut them back.
    init(
        path: String,
        runID: String,
        date: String,
        startedAt: Int64,
        fingerprint: String,
        continuing: ResumeState?,
        steps: FileSteps = .direct
    ) throws(SinkError) {
        self.path = path
        self.steps = steps
        self.chain = 0
        if let continuing {
            var bytes: [UInt8] = []
            for line in continuing.journalLines {
                var encoded = Self.encode(line)
                self.chain = Self.seal(&encoded, chain: self.chain)
                bytes += encoded
            }
            try AtomicFileWriter.write(bytes, to: path, runID: runID, steps: steps)
        }
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (continuing == nil ? O_TRUNC : 0)
        let descriptor = try steps.open(path, flags: flags, mode: 0o600, operation: "open the journal")
        self.descriptor = descriptor
        if continuing == nil {
            try self.append(
                .run(.init(runID: runID, date: date, fingerprint: fingerprint, startedAt: startedAt))
            )
        }
    }

    deinit { close(self.descriptor) }

    func append(_ entry: JournalEntry) throws(SinkError) {
        var bytes = Self.encode(entry)
        self.chain = Self.seal(&bytes, chain: self.chain)
        try self.steps.write(
            bytes,
            to: self.descriptor,
            step: .journal,
            path: self.path,
            operation: "write the journal"
        )
    }

    /// The member that closes every line: `,"crc":"` before the eight hex digits and `"}`.
    private static let crcMember = Array(#","crc":""#.utf8)
    /// The bytes a sealed line ends with after its JSON body: the member, eight digits, `"}`.
    private static let sealLength = crcMember.count + 8 + 2

    /// Closes a JSON object's `bytes` with its CRC member (the CRC of the bytes before the member,
    /// continuing from `chain`) and a newline; returns the CRC.
    static func seal(_ bytes: inout [UInt8], chain: UInt32) -> UInt32 {
        precondition(bytes.last == UInt8(ascii: "}") && bytes.count > 2)
        bytes.removeLast()
        let crc = CRC32.checksum(bytes, seed: chain)
        bytes.append(contentsOf: Self.crcMember)
        let digits = String(crc, radix: 16)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 8 - digits.utf8.count))
        bytes.append(contentsOf: digits.utf8)
        bytes.append(contentsOf: #""}"#.utf8)
        bytes.append(0x0A)
        return crc
    }

    /// Eight lower-case hex digits as a number; nil for anything else.
    private static func hexDigits(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = value << 4 | UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = value << 4 | UInt32(byte - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return text.count == 8 ? value : nil
    }

    /// What a journal on disk holds that can be trusted.
    struct Contents {
        /// The lines before the first damaged one, decoded.
        var lines: [JournalEntry] = []
        /// Bytes of the file those lines take, with their newlines.
        var trustedLength = 0
        /// The CRC of the last trusted line (0 when it has none).
        var chain: UInt32 = 0
        /// Where the first damaged line starts, and why it is not trusted; nil when every line is
        /// sound or only the last one is torn.
        var damage: (offset: Int, reason: String)?
    }

    /// Reads the journal at `path`; nil when there is none.
    static func read(path: String) -> Contents? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return Self.read(Array(data))
    }

    /// Reads a journal's bytes: every line up to the first that does not decode or whose CRC does
    /// not continue the chain.
    static func read(_ bytes: [UInt8]) -> Contents {
        var contents = Contents()
        var sealed = false
        let decoder = JSONDecoder()
        var start = 0
        while start < bytes.count {
            guard let newline = bytes[start...].firstIndex(of: 0x0A) else {
                // A torn last line: the process died while writing it; it was never vouched for.
                return contents
            }
            let line = bytes[start..<newline]
            var reason: String?
            var crc: UInt32?
            if line.count > Self.sealLength, line.suffix(Self.sealLength).starts(with: Self.crcMember),
                let digits = Self.hexDigits(line.suffix(10).prefix(8))
            {
                let body = line.dropLast(Self.sealLength)
                if CRC32.checksum(body, seed: contents.chain) == digits {
                    crc = digits
                } else {
                    reason = "its checksum does not match"
                }
            } else if sealed {
                reason = "it has no checksum"
            }
            let entry = reason == nil ? try? decoder.decode(JournalEntry.self, from: Data(line)) : nil
            guard let entry else {
                contents.damage = (start, reason ?? "it is not a journal line")
                return contents
            }
            if let crc {
                sealed = true
                contents.chain = crc
            }
            contents.lines.append(entry)
            start = newline + 1
            contents.trustedLength = start
        }
        return contents
    }

    /// The line of `entry`, not yet sealed: a library's line by ``libraryLine(_:)``, the others by
    /// `JSONEncoder`.
    static func encode(_ entry: JournalEntry) -> [UInt8] {
        // Plain values cannot fail to encode.
        Self.libraryLine(entry) ?? Array(try! JSONEncoder().encode(entry))
    }

    /// A library's `page` or `end` line (a walk position or result, counts and checkpoints; no
    /// commit, none of the run's fields) written directly: the lines every page and every library
    /// get, a page's with its thousand tokens, which `JSONEncoder` takes ten times as long over. The
    /// same JSON `JSONEncoder` would write, up to key order and spacing, so `JSONDecoder` reads it as
    /// it reads every other line. Nil for the other lines.
    static func libraryLine(_ entry: JournalEntry) -> [UInt8]? {
        guard let line = entry.progress else { return nil }
        let tokens = line.position?.packedTokens ?? []
        var object = JSONObjectWriter(capacity: tokens.count + 512)
        object.text("type", entry.type)
        object.text("account", line.account)
        object.text("group_id", line.groupID)
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
        object.number("repaired", line.repaired)
        if let tokens = line.repairedTokens { object.texts("repaired_tokens", tokens) }
        if let files = line.files {
            object.array("files", files) { members, file in
                members.text("account", file.account)
                members.text("group", file.group)
                members.number("bytes", file.bytes)
                members.number("rows", file.rows)
                members.flag("finished", file.finished)
                members.text("sha256", file.sha256)
                members.number("lastRowID", file.lastRowID)
                if file.pending == true { members.flag("pending", true) }
                if let rowGroups = file.parquetRowGroups { members.texts("parquetRowGroups", rowGroups) }
                members.text("object", file.object)
                members.text("upload", file.upload)
                if let parts = file.uploadParts { members.texts("uploadParts", parts) }
                members.text("uploadDigest", file.uploadDigest)
            }
        }
        return object.finished()
    }

    /// Removes the journal: the run committed, or failed for good.
    func remove() { self.steps.remove(self.path) }
}
