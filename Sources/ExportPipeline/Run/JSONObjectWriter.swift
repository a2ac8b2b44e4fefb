import ExportSinks

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

    /// A member that is an array of strings.
    mutating func texts(_ name: String, _ values: [String]) {
        self.key(name)
        self.bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { self.bytes.append(UInt8(ascii: ",")) }
            NDJSONEncoder.appendString(value, to: &self.bytes)
        }
        self.bytes.append(UInt8(ascii: "]"))
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
