public import ExportSinks

/// The pipeline's `transform:` section: which columns the outputs get, under which names, and what
/// is hashed, redacted, truncated or filtered out before any sink sees a face.
///
/// Every operation names columns by their source names (`group_id`, `face_token`, `user_id`,
/// `user_data`, `add_time`, `add_time_utc`, `add_date`, `run_id`, `exported_at`, `account` and the
/// declared constants); ``rename`` applies last. The default configuration writes
/// `RecordSchema.standard`.
///
/// ```swift
/// var transform = TransformConfiguration()
/// transform.drop = ["user_data"]
/// transform.hash = ["user_id"]
/// transform.hashKey = .environment("FACEEXPORT_HASH_KEY")
/// transform.rename = ["face_token": "face_id"]
/// ```
public struct TransformConfiguration: Sendable, Hashable, Codable {
    /// How `add_time` is written.
    public enum TimeFormat: String, Sendable, Hashable, Codable, CaseIterable {
        /// `add_time`, integer Unix milliseconds.
        case milliseconds = "ms"
        /// `add_time_utc`, RFC 3339 UTC with milliseconds.
        case rfc3339
        /// Both columns.
        case both
    }

    /// How a hashed value is written.
    public enum HashEncoding: String, Sendable, Hashable, Codable, CaseIterable {
        /// 64 lower-case hex digits.
        case hex
        /// 43 characters of unpadded base64url (RFC 4648 §5).
        case base64url
    }

    /// Where the pseudonymisation key comes from: never the pipeline file.
    public enum KeySource: Sendable, Hashable, Codable {
        /// An environment variable holding the key.
        case environment(String)
        /// A file holding the key (surrounding whitespace ignored).
        case file(String)
    }

    /// Columns that describe the run rather than the face.
    public enum MetadataColumn: String, Sendable, Hashable, Codable, CaseIterable {
        /// The run's id.
        case runID = "run_id"
        /// When the run started, RFC 3339 UTC (the same for every face of a run).
        case exportedAt = "exported_at"
        /// The account's name.
        case account
    }

    /// A column with the same text in every record.
    public struct Constant: Sendable, Hashable, Codable {
        /// The column's name.
        public var name: String
        /// Its value.
        public var value: String

        /// Creates a constant column.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One end of an `add_time` window.
    public enum TimeBound: Sendable, Hashable, Codable {
        /// A fixed instant, Unix milliseconds.
        case absolute(milliseconds: Int64)
        /// This many seconds before the run started.
        case relative(seconds: Double)
    }

    /// Which faces are written; the others are counted as filtered.
    public struct Filter: Sendable, Hashable, Codable {
        /// Keep faces added at or after this instant. Default none.
        public var since: TimeBound?
        /// Keep faces added before this instant. Default none.
        public var until: TimeBound?
        /// Keep faces whose raw `user_id` contains a match of this regular expression (anchor it
        /// with `^…$` for a whole match). Default none.
        public var userIDPattern: String?

        /// Creates a filter that keeps every face.
        public init() {}

        /// Whether the filter keeps every face.
        public var isEmpty: Bool { self.since == nil && self.until == nil && self.userIDPattern == nil }
    }

    /// The output columns in order, by source name; nil for every available column. Default nil.
    public var select: [String]?
    /// Columns left out. Default none.
    public var drop: [String] = []
    /// New names by source name. Default none.
    public var rename: [String: String] = [:]
    /// Constant columns, after the others. Default none.
    public var constants: [Constant] = []
    /// Run columns, after the face's. Default none.
    public var metadata: [MetadataColumn] = []
    /// `add_time`'s form. Default `both`.
    public var addTime = TimeFormat.both
    /// The IANA time zone of an `add_date` column (`YYYY-MM-DD`), for partitioning; nil for none. Default nil.
    public var addDateTimeZone: String?
    /// Columns replaced by their keyed HMAC-SHA256. Default none.
    public var hash: [String] = []
    /// The HMAC key's source; required with ``hash``. Default nil.
    public var hashKey: KeySource?
    /// Default `hex`.
    public var hashEncoding = HashEncoding.hex
    /// Columns replaced by ``redactMarker``. Default none.
    public var redact: [String] = []
    /// What a redacted value becomes. Default empty text.
    public var redactMarker = ""
    /// Columns cut to at most this many Unicode characters (code points). Default none.
    public var truncate: [String: Int] = [:]
    /// Which faces are written. Default all.
    public var filter = Filter()

    /// The configuration that writes `RecordSchema.standard`.
    public init() {}

    /// Columns hash, redact and truncate may change: the personal ones. `group_id` also names files
    /// and appears in the manifest, so changing it in the rows alone would hide nothing.
    public static let personalColumns = ["face_token", "user_id", "user_data"]

    /// Columns the outputs can hold before `select`, `drop` and `rename`, in default order.
    public var availableColumns: [(name: String, type: RecordSchema.ColumnType, origin: RecordSchema.Origin)] {
        var columns: [(String, RecordSchema.ColumnType, RecordSchema.Origin)] = [
            ("group_id", .text, .groupID), ("face_token", .text, .faceToken), ("user_id", .text, .userID),
            ("user_data", .text, .userData),
        ]
        if self.addTime != .rfc3339 { columns.append(("add_time", .integer, .addTime)) }
        if self.addTime != .milliseconds { columns.append(("add_time_utc", .text, .addTimeUTC)) }
        if self.addDateTimeZone != nil { columns.append(("add_date", .text, .addDate)) }
        for column in self.metadata {
            let origin: RecordSchema.Origin =
                switch column {
                case .runID: .runID
                case .exportedAt: .exportedAt
                case .account: .account
                }
            columns.append((column.rawValue, .text, origin))
        }
        for constant in self.constants { columns.append((constant.name, .text, .constant)) }
        return columns
    }

    /// The source names of the output columns, in order.
    public var outputSourceNames: [String] {
        let available = self.availableColumns.map(\.name)
        return (self.select ?? available).filter { !self.drop.contains($0) }
    }
}
