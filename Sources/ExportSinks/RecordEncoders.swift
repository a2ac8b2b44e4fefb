/// Turns records into the bytes of a text format.
protocol RecordEncoder: Sendable {
    /// The bytes at the start of every file (a CSV header), if any.
    var header: [UInt8] { get }
    /// Appends record `row` of `rows`, its terminator included.
    func encode(row: Int, of rows: RecordRows.Reader, into output: inout [UInt8])
}

extension RecordEncoder {
    /// One record of `values` as text, terminator included.
    func line(_ values: [FieldValue]) -> String {
        var rows = RecordRows(width: values.count)
        rows.append(row: values)
        var bytes: [UInt8] = []
        rows.withReader { self.encode(row: 0, of: $0, into: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Calls `body` with the UTF-8 bytes of `text`: in place for a native string (no copy, no retain),
/// else from a contiguous copy.
@inlinable
public func withUTF8<Result>(of text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    var copy = text
    return copy.withUTF8(body)
}

/// Writes bytes through a pointer into room reserved for them: a record is written with one
/// reservation instead of an append (a uniqueness and a capacity check) per piece.
struct ByteWriter {
    /// Where the next byte goes.
    private(set) var position: UnsafeMutablePointer<UInt8>

    /// The most bytes ``writeDecimal(_:)`` writes.
    static let decimalBound = 20

    /// Appends at most `bound` bytes to `output`, written by `write`.
    @inline(__always)
    static func append(to output: inout [UInt8], atMost bound: Int, _ write: (inout ByteWriter) -> Void) {
        if output.capacity - output.count < bound {
            // Grow as appending would, geometrically, not to the exact size each time.
            output.reserveCapacity(Swift.max(output.count + bound, 2 * output.capacity))
        }
        output.append(addingCapacity: bound) { span in
            span.withUnsafeMutableBufferPointer { buffer, initialized in
                var writer = ByteWriter(position: buffer.baseAddress! + initialized)
                write(&writer)
                initialized = writer.position - buffer.baseAddress!
                precondition(initialized <= bound, "a writer stays within the room it reserved")
            }
        }
    }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        self.position.initialize(to: byte)
        self.position += 1
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        self.position.initialize(from: base, count: bytes.count)
        self.position += bytes.count
    }

    /// `number` in decimal ASCII, as `String(number)` spells it, at most ``decimalBound`` bytes.
    mutating func writeDecimal(_ number: Int64) {
        if number < 0 { self.write(UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        var digits = 1
        var power: UInt64 = 10
        while digits < 20, magnitude >= power {
            digits += 1
            power = power &* 10
        }
        var index = digits
        repeat {
            index -= 1
            (self.position + index).initialize(to: UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while index > 0
        self.position += digits
    }
}

/// Newline-delimited JSON, one object per face, keys in schema order.
///
/// Strings are escaped per RFC 8259 (quote, backslash and control characters) and otherwise kept as
/// their UTF-8 bytes, so every reader decodes them to exactly what the API sent; integers are bare.
public struct NDJSONEncoder: RecordEncoder {
    /// `{"name":`, then `,"name":` for every later column, one after the other: written before each value.
    private let keyPrefixes: [UInt8]
    /// Where each column's prefix ends in ``keyPrefixes``.
    private let prefixEnds: [Int]

    /// An encoder for records of `schema`.
    public init(schema: RecordSchema) {
        var prefixes: [UInt8] = []
        var ends: [Int] = []
        for (index, column) in schema.columns.enumerated() {
            prefixes.append(index == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            Self.appendString(column.name, to: &prefixes)
            prefixes.append(UInt8(ascii: ":"))
            ends.append(prefixes.count)
        }
        self.keyPrefixes = prefixes
        self.prefixEnds = ends
    }

    var header: [UInt8] { [] }

    func encode(row: Int, of rows: RecordRows.Reader, into line: inout [UInt8]) {
        // The most the record can take: every text byte escaped as `\u00XX`.
        var bound = self.keyPrefixes.count + 2
        for column in 0..<rows.width {
            switch rows.cell(row: row, column: column) {
            case .integer: bound += ByteWriter.decimalBound
            case let text: bound += Self.bound(rows.bytes(of: text).count)
            }
        }
        self.keyPrefixes.withUnsafeBufferPointer { prefixes in
            ByteWriter.append(to: &line, atMost: bound) { writer in
                var prefixStart = 0
                for column in 0..<rows.width {
                    let prefixEnd = self.prefixEnds[column]
                    writer.write(UnsafeBufferPointer(rebasing: prefixes[prefixStart..<prefixEnd]))
                    prefixStart = prefixEnd
                    switch rows.cell(row: row, column: column) {
                    case .integer(let number): writer.writeDecimal(number)
                    case let text: Self.writeString(rows.bytes(of: text), to: &writer)
                    }
                }
                writer.write(UInt8(ascii: "}"))
                writer.write(UInt8(ascii: "\n"))
            }
        }
    }

    /// Record `row` of `rows` as a line of JSON, newline included.
    public func line(row: Int, of rows: RecordRows) -> String {
        var bytes: [UInt8] = []
        rows.withReader { self.encode(row: row, of: $0, into: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let hex: StaticString = "0123456789abcdef"

    /// Appends `value` as a quoted JSON string: `"` and `\` escaped, control characters as escapes.
    public static func appendString(_ value: String, to output: inout [UInt8]) {
        withUTF8(of: value) { bytes in Self.appendString(bytes: bytes, to: &output) }
    }

    /// Appends UTF-8 `bytes` as a quoted JSON string, escaped as ``appendString(_:to:)`` does.
    public static func appendString(bytes: [UInt8], to output: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { Self.appendString(bytes: $0, to: &output) }
    }

    private static func appendString(bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        ByteWriter.append(to: &output, atMost: Self.bound(bytes.count)) { Self.writeString(bytes, to: &$0) }
    }

    /// The most bytes a string of `count` bytes takes quoted: each escaped as `\u00XX`.
    @inline(__always)
    private static func bound(_ count: Int) -> Int { 6 * count + 2 }

    /// `bytes` as a quoted JSON string.
    private static func writeString(_ bytes: UnsafeBufferPointer<UInt8>, to writer: inout ByteWriter) {
        writer.write(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        while index < bytes.count {
            // Eight bytes at a time while none needs an escape (most text has none).
            if index + 8 <= bytes.count,
                !Self.mayNeedEscape(UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
            {
                index += 8
                continue
            }
            let end = min(index + 8, bytes.count)
            while index < end {
                let byte = bytes[index]
                index += 1
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                writer.write(UnsafeBufferPointer(rebasing: bytes[runStart..<(index - 1)]))
                Self.writeEscape(byte, to: &writer)
                runStart = index
            }
        }
        writer.write(UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        writer.write(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes in `word` may be a quote, a backslash or a control character
    /// (a byte below 0x20); never false when one is.
    @inline(__always)
    private static func mayNeedEscape(_ word: UInt64) -> Bool {
        WordScan.equal(word, 0x22) | WordScan.equal(word, 0x5C) | WordScan.below(word, 0x20) != 0
    }

    /// The escape for `byte` (a quote, a backslash or a control character).
    private static func writeEscape(_ byte: UInt8, to writer: inout ByteWriter) {
        writer.write(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): writer.write(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): writer.write(UInt8(ascii: "\\"))
        case UInt8(ascii: "\n"): writer.write(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): writer.write(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): writer.write(UInt8(ascii: "t"))
        default:
            writer.write(UInt8(ascii: "u"))
            writer.write(UInt8(ascii: "0"))
            writer.write(UInt8(ascii: "0"))
            writer.write(Self.hex.utf8Start[Int(byte >> 4)])
            writer.write(Self.hex.utf8Start[Int(byte & 0xF)])
        }
    }
}

/// CSV per RFC 4180: a header row, CRLF after every record, a field quoted when it holds a comma,
/// a quote, CR or LF, quotes doubled; UTF-8 without a byte-order mark.
///
/// With `escapeFormulas`, a text cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`,
/// so a spreadsheet shows it instead of evaluating it; the data is then no longer byte-exact.
struct CSVEncoder: RecordEncoder {
    var escapeFormulas: Bool
    let header: [UInt8]

    init(schema: RecordSchema, escapeFormulas: Bool) {
        self.escapeFormulas = escapeFormulas
        self.header = Array((schema.names.joined(separator: ",") + "\r\n").utf8)
    }

    func encode(row: Int, of rows: RecordRows.Reader, into line: inout [UInt8]) {
        // The most the record can take: every text byte a doubled quote, the quotes and a `'` around it.
        var bound = rows.width + 2
        for column in 0..<rows.width {
            switch rows.cell(row: row, column: column) {
            case .integer: bound += ByteWriter.decimalBound
            case let text: bound += 2 * rows.bytes(of: text).count + 3
            }
        }
        ByteWriter.append(to: &line, atMost: bound) { writer in
            for column in 0..<rows.width {
                if column != 0 { writer.write(UInt8(ascii: ",")) }
                switch rows.cell(row: row, column: column) {
                case .integer(let number): writer.writeDecimal(number)
                case let text: self.writeField(rows.bytes(of: text), to: &writer)
                }
            }
            writer.write(0x0D)
            writer.write(0x0A)
        }
    }

    private func writeField(_ bytes: UnsafeBufferPointer<UInt8>, to writer: inout ByteWriter) {
        let formula = self.escapeFormulas && bytes.first.map(Self.startsFormula) == true
        let needsQuotes = Self.needsQuotes(bytes)
        if needsQuotes { writer.write(UInt8(ascii: "\"")) }
        if formula { writer.write(UInt8(ascii: "'")) }
        if needsQuotes {
            for byte in bytes {
                writer.write(byte)
                if byte == UInt8(ascii: "\"") { writer.write(byte) }
            }
            writer.write(UInt8(ascii: "\""))
        } else {
            writer.write(bytes)
        }
    }

    /// Whether a cell starting with `byte` is one a spreadsheet would evaluate.
    private static func startsFormula(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "@"), 0x09, 0x0D: true
        default: false
        }
    }

    /// Whether the field holds a comma, a quote, CR or LF: eight bytes at a time, then the rest.
    private static func needsQuotes(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
            let found =
                WordScan.equal(word, UInt8(ascii: ",")) | WordScan.equal(word, UInt8(ascii: "\""))
                | WordScan.equal(word, 0x0D)
                | WordScan.equal(word, 0x0A)
            if found != 0 { break }
            index += 8
        }
        return bytes[index...].contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0D || $0 == 0x0A
        }
    }
}

/// Byte tests over eight bytes at once. Each returns a word whose byte has its high bit set where
/// the test may hold; it is never zero when a byte passes (bytes above one that passes may show
/// falsely, so a caller confirms byte by byte). A byte equal to a value is a zero byte after XOR,
/// and `(x - 0x01…) & ~x & 0x80…` marks zero bytes.
enum WordScan {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Bytes equal to `value`.
    @inline(__always)
    static func equal(_ word: UInt64, _ value: UInt8) -> UInt64 {
        let zeroed = word ^ (Self.ones &* UInt64(value))
        return (zeroed &- Self.ones) & ~zeroed & Self.highs
    }

    /// Bytes below `limit` (at most 0x80).
    @inline(__always)
    static func below(_ word: UInt64, _ limit: UInt8) -> UInt64 {
        (word &- Self.ones &* UInt64(limit)) & ~word & Self.highs
    }
}
