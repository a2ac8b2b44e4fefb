public import ExportSinks
import FaceExportCrypto
public import FaceSearch
import Foundation

/// A checked `transform:` section, ready to turn faces into rows: the output schema and the work per face.
///
/// ```swift
/// let transform = try RecordTransform(configuration: section, hashKey: key, run: .init(runID: id, startedAt: ms))
/// var rows = RecordRows(width: transform.schema.columns.count)
/// for face in page { transform.append(face, from: source, to: &rows) }
/// ```
public struct RecordTransform: Sendable {
    /// What the run contributes to the records: its id and start.
    public struct RunValues: Sendable {
        /// The run's id (`run_id`).
        public var runID: String
        /// When the run started, Unix ms: `exported_at`, and the reference of relative filter windows.
        public var startedAt: Int64

        /// Creates the values.
        public init(runID: String, startedAt: Int64) {
            self.runID = runID
            self.startedAt = startedAt
        }
    }

    private enum Value: Sendable {
        case groupID, faceToken, userID, userData, addTime, addTimeUTC, addDate
        case text(String)
        case account
    }

    private enum Change: Sendable {
        case none, hash, redact
        case truncate(Int)
    }

    /// The columns the records get.
    public let schema: RecordSchema
    /// SHA-256 (hex) of the configuration: the manifest's `transform_sha256`.
    public let digest: String
    private let columns: [(value: Value, change: Change)]
    private let hashKey: [UInt8]
    private let encoding: TransformConfiguration.HashEncoding
    private let redactMarker: String
    private let since: Int64?
    private let until: Int64?
    private let userIDPattern: UserIDPattern?
    private let timeZone: TimeZone?

    /// The transform of a pipeline without a `transform:` section: `RecordSchema.standard`.
    public static let standard = try! RecordTransform(
        configuration: TransformConfiguration(),
        hashKey: nil,
        run: RunValues(runID: "", startedAt: 0)
    )

    /// Checks the configuration and prepares it.
    ///
    /// - Parameters:
    ///   - configuration: The `transform:` section, as read from the pipeline file.
    ///   - hashKey: The HMAC key, required when the configuration hashes a column.
    ///   - run: The run's id and start, for the columns derived from the run.
    public init(
        configuration: TransformConfiguration,
        hashKey: [UInt8]?,
        run: RunValues
    ) throws(TransformError) {
        let problems = configuration.problems()
        guard problems.isEmpty else { throw TransformError(problems: problems) }
        if !configuration.hash.isEmpty, let problem = Self.keyProblem(hashKey) {
            throw TransformError(problems: [problem])
        }
        self.hashKey = hashKey ?? []
        self.encoding = configuration.hashEncoding
        self.redactMarker = configuration.redactMarker
        let available = Dictionary(
            configuration.availableColumns.map { ($0.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var schema = RecordSchema(columns: [])
        var columns: [(Value, Change)] = []
        for name in configuration.outputSourceNames {
            let column = available[name]!
            schema.columns.append(
                RecordSchema.Column(name: configuration.rename[name] ?? name, type: column.type, origin: column.origin)
            )
            let value: Value =
                switch column.origin {
                case .groupID: .groupID
                case .faceToken: .faceToken
                case .userID: .userID
                case .userData: .userData
                case .addTime: .addTime
                case .addTimeUTC: .addTimeUTC
                case .addDate: .addDate
                case .runID: .text(run.runID)
                case .exportedAt: .text(Timestamp.formatRFC3339UTC(milliseconds: run.startedAt))
                case .account: .account
                case .constant: .text(configuration.constants.first { $0.name == name }!.value)
                }
            let change: Change =
                if configuration.hash.contains(name) {
                    .hash
                } else if configuration.redact.contains(name) {
                    .redact
                } else if let length = configuration.truncate[name] {
                    .truncate(length)
                } else {
                    .none
                }
            columns.append((value, change))
        }
        self.schema = schema
        self.columns = columns
        self.since = configuration.filter.since.map { Self.instant($0, run: run) }
        self.until = configuration.filter.until.map { Self.instant($0, run: run) }
        self.userIDPattern = configuration.filter.userIDPattern.map { try! UserIDPattern($0) }
        self.timeZone = configuration.addDateTimeZone.flatMap(TimeZone.init(identifier:))
        self.digest = configuration.digest
    }

    /// Keys shorter than this are refused: HMAC of a phone number under a short key is guessable.
    public static let minimumKeyLength = 16

    /// What is wrong with a hash key, if anything: missing, or shorter than ``minimumKeyLength``.
    public static func keyProblem(_ key: [UInt8]?) -> TransformProblem? {
        guard let key else { return TransformProblem(key: "transform.hash_key", message: "no key") }
        guard key.count < Self.minimumKeyLength else { return nil }
        return TransformProblem(
            key: "transform.hash_key",
            message:
                "the key has \(key.count) bytes; use at least \(Self.minimumKeyLength) random bytes, or the "
                + "hashed identifiers can be guessed back"
        )
    }

    /// Appends the face's row, or nothing when the filter leaves it out; returns whether it was kept.
    @discardableResult
    public func append(_ face: Face, from source: RecordSource, to rows: inout RecordRows) -> Bool {
        self.append(FacePage(faces: [face]), from: source, to: &rows) == 0
    }

    /// Appends the rows of the page's faces that the filter keeps; returns how many it left out.
    ///
    /// The face's own fields are read from the page's bytes where they are (the rows borrow them), the
    /// rest written into the rows' bytes: no `String` per field.
    public func append(_ page: FacePage, from source: RecordSource, to rows: inout RecordRows) -> Int {
        // The rows share the page's bytes (no copy) unless they already share another page's.
        let borrowing = rows.borrow(page.text)
        return page.withText { text in
            var filtered = 0
            var days = Timestamp.DayCache()
            for index in page.spans.indices {
                let face = page.spans[index]
                if self.keeps(face, text) {
                    self.appendRow(of: face, text, borrowing: borrowing, source, days: &days, to: &rows)
                } else {
                    filtered += 1
                }
            }
            return filtered
        }
    }

    /// Whether the filter keeps the face.
    private func keeps(_ face: FaceSpans, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        if let since = self.since, face.addTime < since { return false }
        if let until = self.until, face.addTime >= until { return false }
        if let pattern = self.userIDPattern {
            return pattern.matches(String(decoding: face.userID.bytes(in: text), as: UTF8.self))
        }
        return true
    }

    private func appendRow(
        of face: FaceSpans,
        _ text: UnsafeBufferPointer<UInt8>,
        borrowing: Bool,
        _ source: RecordSource,
        days: inout Timestamp.DayCache,
        to rows: inout RecordRows
    ) {
        // By index: iterating would copy every column and its text.
        for index in self.columns.indices {
            if case .addTime = self.columns[index].value {
                rows.appendInteger(face.addTime)
                continue
            }
            switch self.columns[index].change {
            case .none:
                switch self.columns[index].value {
                case .faceToken where borrowing:
                    rows.appendBorrowed(start: face.faceToken.start, count: face.faceToken.count)
                case .userID where borrowing: rows.appendBorrowed(start: face.userID.start, count: face.userID.count)
                case .userData where borrowing:
                    rows.appendBorrowed(start: face.userData.start, count: face.userData.count)
                case .addTimeUTC:
                    // Formatted straight into the rows' bytes.
                    rows.appendText { Timestamp.appendRFC3339UTC(milliseconds: face.addTime, to: &$0, cache: &days) }
                default:
                    self.withText(of: self.columns[index].value, face, text, source) { rows.appendText($0) }
                }
            case .hash:
                self.withText(of: self.columns[index].value, face, text, source) { rows.appendText(self.hash($0)) }
            case .redact:
                rows.appendText(self.redactMarker)
            case .truncate(let length):
                self.withText(of: self.columns[index].value, face, text, source) {
                    rows.appendText(Self.prefix($0, scalars: length))
                }
            }
        }
    }

    /// Calls `body` with the UTF-8 bytes of a text value.
    private func withText(
        of value: Value,
        _ face: FaceSpans,
        _ text: UnsafeBufferPointer<UInt8>,
        _ source: RecordSource,
        _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        switch value {
        case .groupID: withUTF8(of: source.groupID, body)
        case .faceToken: body(face.faceToken.bytes(in: text))
        case .userID: body(face.userID.bytes(in: text))
        case .userData: body(face.userData.bytes(in: text))
        case .addTime: withUTF8(of: String(face.addTime), body)
        case .addTimeUTC:
            var bytes: [UInt8] = []
            Timestamp.appendRFC3339UTC(milliseconds: face.addTime, to: &bytes)
            bytes.withUnsafeBufferPointer(body)
        case .addDate: withUTF8(of: self.date(of: face.addTime), body)
        case .text(let text): withUTF8(of: text, body)
        case .account: withUTF8(of: source.account, body)
        }
    }

    /// The first `count` Unicode scalars of UTF-8 `bytes` (all of them when there are fewer): a
    /// scalar starts at every byte that is not a continuation byte (`10xxxxxx`).
    static func prefix(_ bytes: UnsafeBufferPointer<UInt8>, scalars count: Int) -> UnsafeBufferPointer<UInt8> {
        var seen = 0
        for index in bytes.indices where bytes[index] & 0xC0 != 0x80 {
            if seen == count { return UnsafeBufferPointer(rebasing: bytes[..<index]) }
            seen += 1
        }
        return bytes
    }

    /// HMAC-SHA256 of the value's UTF-8 bytes under the key, in the configured encoding.
    func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let mac = HMAC.sha256(key: self.hashKey, message: bytes)
        switch self.encoding {
        case .hex:
            return Hex.encode(mac)
        case .base64url:
            return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
    }

    private func date(of milliseconds: Int64) -> String {
        let offset = self.timeZone?.secondsFromGMT(for: Date(timeIntervalSince1970: Double(milliseconds) / 1000)) ?? 0
        return Timestamp.formatDate(milliseconds: milliseconds, offsetSeconds: Int64(offset))
    }

    private static func instant(_ bound: TransformConfiguration.TimeBound, run: RunValues) -> Int64 {
        switch bound {
        case .absolute(let milliseconds): milliseconds
        case .relative(let seconds): run.startedAt - Int64((seconds * 1000).rounded())
        }
    }
}

extension TransformConfiguration {
    /// SHA-256 (hex) of the configuration as sorted JSON: the same section gives the same digest
    /// whatever its layout or comments in the file. The key's source is in it, never the key.
    public var digest: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Plain values cannot fail to encode.
        let bytes = try! encoder.encode(self)
        var digest = SHA256Digest()
        bytes.withUnsafeBytes { digest.update($0) }
        return digest.hexDigest()
    }
}

/// A compiled `filter.user_id` pattern.
///
/// `Regex` holds an immutable compiled program; it is only read after `init`.
///
/// A class, so the transform's optional pattern is a null check per face: an optional of a struct
/// holding a `Regex` is tested through the runtime's generic witnesses.
private final class UserIDPattern: @unchecked Sendable {
    private let regex: Regex<AnyRegexOutput>

    init(_ pattern: String) throws {
        self.regex = try Regex(pattern)
    }

    func matches(_ text: String) -> Bool {
        (try? self.regex.firstMatch(in: text)) != nil
    }
}

/// A `transform:` section that cannot run, with every problem found.
public struct TransformError: Error, Sendable, CustomStringConvertible {
    /// The problems, each at its key.
    public let problems: [TransformProblem]

    public var description: String { self.problems.map(\.description).joined(separator: "; ") }
}
