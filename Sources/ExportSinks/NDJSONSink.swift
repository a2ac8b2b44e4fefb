/// Newline-delimited JSON, one object per face; gzip-compressed when the path ends in `.gz`.
///
/// Each line is `{"group_id":…,"face_token":…,"user_id":…,"user_data":…,"add_time":…,"add_time_utc":…}`.
/// Strings are escaped per RFC 8259 (quote, backslash and control characters) and otherwise kept as
/// their UTF-8 bytes, so every reader decodes them to exactly what the API sent.
public final class NDJSONSink: RecordSink {
    /// How the sink writes.
    public struct Configuration: Sendable {
        /// The file to produce; `.gz` at the end turns on gzip.
        public var path: String
        /// zlib level for `.gz` paths, 1 (fastest) to 9 (smallest). Default 6.
        public var compressionLevel: Int32 = 6

        /// Creates a configuration for `path`.
        public init(path: String) { self.path = path }
    }

    public let finalPath: String
    private let output: any ByteOutput
    private var buffer: [UInt8] = []
    private var rows = 0
    private static let flushThreshold = 1 << 16

    /// Opens the temporary file for `configuration.path`.
    public init(configuration: Configuration, runID: String) throws(SinkError) {
        self.finalPath = configuration.path
        self.output = try makeByteOutput(
            path: configuration.path,
            runID: runID,
            compressionLevel: configuration.compressionLevel
        )
        self.buffer.reserveCapacity(Self.flushThreshold + 4096)
    }

    public func write(_ records: [ExportRecord]) throws(SinkError) {
        for record in records {
            Self.encode(record, into: &self.buffer)
            if self.buffer.count >= Self.flushThreshold { try self.flush() }
        }
        self.rows += records.count
    }

    public func commit() throws(SinkError) -> SinkSummary {
        try self.flush()
        try self.output.commit()
        return SinkSummary(path: self.finalPath, format: "ndjson", rows: self.rows, bytes: self.output.bytesOnDisk)
    }

    public func discard() { self.output.discard() }

    private func flush() throws(SinkError) {
        guard !self.buffer.isEmpty else { return }
        try self.output.write(self.buffer[...])
        self.buffer.removeAll(keepingCapacity: true)
    }

    /// Appends one record's line, newline included.
    static func encode(_ record: ExportRecord, into line: inout [UInt8]) {
        line.append(contentsOf: #"{"group_id":"#.utf8)
        JSONText.appendString(record.groupID, to: &line)
        line.append(contentsOf: #","face_token":"#.utf8)
        JSONText.appendString(record.faceToken, to: &line)
        line.append(contentsOf: #","user_id":"#.utf8)
        JSONText.appendString(record.userID, to: &line)
        line.append(contentsOf: #","user_data":"#.utf8)
        JSONText.appendString(record.userData, to: &line)
        line.append(contentsOf: #","add_time":"#.utf8)
        line.append(contentsOf: String(record.addTime).utf8)
        line.append(contentsOf: #","add_time_utc":"#.utf8)
        JSONText.appendString(record.addTimeUTC, to: &line)
        line.append(contentsOf: "}\n".utf8)
    }
}

/// JSON string literals written straight into a byte buffer.
enum JSONText {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `value` as a quoted JSON string: `"` and `\` escaped, control characters as escapes.
    static func appendString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "\n"): output.append(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): output.append(UInt8(ascii: "r"))
                case UInt8(ascii: "\t"): output.append(UInt8(ascii: "t"))
                default:
                    output.append(contentsOf: "u00".utf8)
                    output.append(Self.hex[Int(byte >> 4)])
                    output.append(Self.hex[Int(byte & 0xF)])
                }
                runStart = index + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "\""))
    }
}
