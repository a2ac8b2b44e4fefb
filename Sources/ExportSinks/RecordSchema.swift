/// The columns a run writes, in order: every sink follows it (NDJSON keys, CSV header, SQLite columns).
///
/// The transformer stage decides the schema from the pipeline's `transform:` section;
/// ``RecordSchema/standard`` is what a pipeline without one writes.
public struct RecordSchema: Sendable, Hashable, Codable {
    /// How a column's values are written: quoted or not in NDJSON, `TEXT` or `INTEGER` in SQLite.
    public enum ColumnType: String, Sendable, Hashable, Codable {
        /// UTF-8 text, byte-exact.
        case text
        /// A 64-bit signed integer.
        case integer
    }

    /// Where a column's values come from.
    public enum Origin: String, Sendable, Hashable, Codable, CaseIterable {
        /// The library's id.
        case groupID = "group_id"
        /// The face's token.
        case faceToken = "face_token"
        /// The face's user id.
        case userID = "user_id"
        /// The face's user data.
        case userData = "user_data"
        /// When the face was added, Unix milliseconds.
        case addTime = "add_time"
        /// When the face was added, RFC 3339 UTC.
        case addTimeUTC = "add_time_utc"
        /// The day the face was added, `YYYY-MM-DD` in the configured time zone.
        case addDate = "add_date"
        /// The run's id.
        case runID = "run_id"
        /// When the run started, RFC 3339 UTC.
        case exportedAt = "exported_at"
        /// The account's name.
        case account
        /// A constant the pipeline declares.
        case constant

        /// Whether the column tells something of the face itself (rather than of the run or pipeline):
        /// only such columns make a face `modified` between two runs.
        public var describesFace: Bool {
            switch self {
            case .runID, .exportedAt, .account, .constant: false
            default: true
            }
        }
    }

    /// One column.
    public struct Column: Sendable, Hashable, Codable {
        /// Its name in the outputs.
        public var name: String
        /// Its type.
        public var type: ColumnType
        /// Where its values come from.
        public var origin: Origin

        /// Creates a column.
        public init(name: String, type: ColumnType, origin: Origin) {
            self.name = name
            self.type = type
            self.origin = origin
        }
    }

    /// The columns, in output order.
    public var columns: [Column]

    /// Creates a schema.
    public init(columns: [Column]) {
        self.columns = columns
    }

    /// `group_id, face_token, user_id, user_data, add_time, add_time_utc`: a pipeline without a
    /// `transform:` section.
    public static let standard = RecordSchema(columns: [
        Column(name: "group_id", type: .text, origin: .groupID),
        Column(name: "face_token", type: .text, origin: .faceToken),
        Column(name: "user_id", type: .text, origin: .userID),
        Column(name: "user_data", type: .text, origin: .userData),
        Column(name: "add_time", type: .integer, origin: .addTime),
        Column(name: "add_time_utc", type: .text, origin: .addTimeUTC),
    ])

    /// The column names, in order.
    public var names: [String] { self.columns.map(\.name) }

    /// The position of the first column with this origin.
    public func index(of origin: Origin) -> Int? {
        self.columns.firstIndex { $0.origin == origin }
    }
}

/// One value of a record.
public enum FieldValue: Sendable, Hashable {
    /// Text, written byte-exact.
    case text(String)
    /// A whole number.
    case integer(Int64)
}
