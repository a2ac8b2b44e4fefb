/// One column of a Parquet file: its name, how its values are stored, and what they mean.
public struct ParquetColumn: Sendable, Hashable {
    /// How the values are stored (`Type` in `parquet.thrift`); only the types faceexport writes.
    public enum PhysicalType: Int32, Sendable {
        /// 32-bit signed integers, little-endian.
        case int32 = 1
        /// 64-bit signed integers, little-endian.
        case int64 = 2
        /// Byte strings, each with its length.
        case byteArray = 6
    }

    /// What the values mean (`LogicalType`), which readers turn into their own types.
    public enum LogicalType: Sendable, Hashable {
        /// The physical type's own meaning.
        case none
        /// UTF-8 text, on `byteArray`.
        case string
        /// Milliseconds since the Unix epoch, UTC (`TIMESTAMP(MILLIS, isAdjustedToUTC=true)`), on `int64`.
        case timestampMillisUTC
        /// Days since the Unix epoch (`DATE`), on `int32`.
        case date
    }

    /// The column's name.
    public var name: String
    /// How the values are stored.
    public var type: PhysicalType
    /// What the values mean.
    public var logicalType: LogicalType
    /// Whether a row may have no value (`OPTIONAL`) or must have one (`REQUIRED`).
    public var isOptional: Bool
    /// Whether each row group gets a bloom filter of the column's values (byte arrays only): for
    /// values spread over every row group, which minimum and maximum cannot skip.
    public var hasBloomFilter: Bool

    /// The column as `--dry-run` shows it: `INT64 TIMESTAMP(MILLIS, UTC) REQUIRED`, and its bloom filter.
    public var description: String {
        let physical = ["int32": "INT32", "int64": "INT64", "byteArray": "BYTE_ARRAY"]["\(self.type)"]!
        let logical: String
        switch self.logicalType {
        case .none: logical = ""
        case .string: logical = " STRING"
        case .date: logical = " DATE"
        case .timestampMillisUTC: logical = " TIMESTAMP(MILLIS, UTC)"
        }
        return physical + logical + (self.isOptional ? " OPTIONAL" : " REQUIRED")
            + (self.hasBloomFilter ? ", bloom filter" : "")
    }

    /// Creates a column; a column is required and without a bloom filter unless said otherwise.
    public init(
        name: String,
        type: PhysicalType,
        logicalType: LogicalType = .none,
        isOptional: Bool = false,
        hasBloomFilter: Bool = false
    ) {
        precondition(!hasBloomFilter || type == .byteArray, "bloom filters are made for byte arrays only")
        self.name = name
        self.type = type
        self.logicalType = logicalType
        self.isOptional = isOptional
        self.hasBloomFilter = hasBloomFilter
    }
}

/// How a Parquet file's pages are compressed.
public enum ParquetCodec: Sendable, Hashable {
    /// Not compressed.
    case none
    /// Snappy: fast, larger files; what many Parquet writers default to.
    case snappy
    /// Gzip through one of the gzip engines, for readers that know no other codec.
    case gzip(GzipCompression)
    /// Zstandard at `level` (1–22; 3 is zstd's default).
    case zstd(level: Int32)

    /// `CompressionCodec` in `parquet.thrift`.
    var thriftValue: Int32 {
        switch self {
        case .none: 0
        case .snappy: 1
        case .gzip: 2
        case .zstd: 6
        }
    }
}
