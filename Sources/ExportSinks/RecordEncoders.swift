/// Turns records into the bytes of a text format.
protocol RecordEncoder: Sendable {
    /// The bytes at the start of every file (a CSV header), if any.
    var header: [UInt8] { get }
    /// Appends one record, its terminator included.
    func encode(_ record: ExportRecord, into output: inout [UInt8])
}

/// The columns every format writes, in order.
public enum ExportColumns {
    /// `group_id, face_token, user_id, user_data, add_time, add_time_utc`.
    public static let names = ["group_id", "face_token", "user_id", "user_data", "add_time", "add_time_utc"]
}

/// Newline-delimited JSON, one object per face.
///
/// Strings are escaped per RFC 8259 (quote, backslash and control characters) and otherwise kept as
/// their UTF-8 bytes, so every reader decodes them to exactly what the API sent.
struct NDJSONEncoder: RecordEncoder {
    var header: [UInt8] { [] }

    func encode(_ record: ExportRecord, into line: inout [UInt8]) {
        line.append(contentsOf: #"{"group_id":"#.utf8)
        Self.appendString(record.groupID, to: &line)
        line.append(contentsOf: #","face_token":"#.utf8)
        Self.appendString(record.faceToken, to: &line)
        line.append(contentsOf: #","user_id":"#.utf8)
        Self.appendString(record.userID, to: &line)
        line.append(contentsOf: #","user_data":"#.utf8)
        Self.appendString(record.userData, to: &line)
        line.append(contentsOf: #","add_time":"#.utf8)
        line.append(contentsOf: String(record.addTime).utf8)
        line.append(contentsOf: #","add_time_utc":"#.utf8)
        Self.appendString(record.addTimeUTC, to: &line)
        line.append(contentsOf: "}\n".utf8)
    }

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

/// CSV per RFC 4180: a header row, CRLF after every record, a field quoted when it holds a comma,
/// a quote, CR or LF, quotes doubled; UTF-8 without a byte-order mark.
///
/// With `escapeFormulas`, a text cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`,
/// so a spreadsheet shows it instead of evaluating it; the data is then no longer byte-exact.
struct CSVEncoder: RecordEncoder {
    var escapeFormulas: Bool

    var header: [UInt8] { Array((ExportColumns.names.joined(separator: ",") + "\r\n").utf8) }

    func encode(_ record: ExportRecord, into line: inout [UInt8]) {
        self.appendField(record.groupID, to: &line)
        line.append(UInt8(ascii: ","))
        self.appendField(record.faceToken, to: &line)
        line.append(UInt8(ascii: ","))
        self.appendField(record.userID, to: &line)
        line.append(UInt8(ascii: ","))
        self.appendField(record.userData, to: &line)
        line.append(UInt8(ascii: ","))
        line.append(contentsOf: String(record.addTime).utf8)
        line.append(UInt8(ascii: ","))
        self.appendField(record.addTimeUTC, to: &line)
        line.append(contentsOf: [0x0D, 0x0A])
    }

    private func appendField(_ value: String, to output: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            let formula =
                self.escapeFormulas
                && bytes.first.map {
                    [UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D].contains(
                        $0
                    )
                } == true
            let needsQuotes = bytes.contains {
                $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0D || $0 == 0x0A
            }
            if needsQuotes { output.append(UInt8(ascii: "\"")) }
            if formula { output.append(UInt8(ascii: "'")) }
            if needsQuotes {
                for byte in bytes {
                    output.append(byte)
                    if byte == UInt8(ascii: "\"") { output.append(byte) }
                }
                output.append(UInt8(ascii: "\""))
            } else {
                output.append(contentsOf: bytes)
            }
        }
    }
}
