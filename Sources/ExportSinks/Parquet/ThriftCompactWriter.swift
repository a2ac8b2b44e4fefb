/// Thrift's compact protocol, the encoding of Parquet's metadata: structs written field by field.
///
/// Only what Parquet's metadata uses: `bool`, `i8`, `i32`, `i64`, `binary`, nested structs and unions,
/// and lists of those (`doc/specs/thrift-compact-protocol.md` in apache/thrift). A struct's fields
/// must be written in increasing id order, which is the order `parquet.thrift` declares them.
struct ThriftCompactWriter {
    /// The compact protocol's type ids, as fields and as list elements.
    enum FieldType: UInt8 {
        case booleanTrue = 1
        case booleanFalse = 2
        case i8 = 3
        case i16 = 4
        case i32 = 5
        case i64 = 6
        case binary = 8
        case list = 9
        case structure = 12
    }

    /// The bytes written so far.
    private(set) var bytes: [UInt8] = []
    /// The last field id of each struct being written, innermost last: ids are written as deltas.
    private var lastFieldIDs: [Int16] = [0]

    init() {}

    // MARK: Fields

    mutating func bool(_ id: Int16, _ value: Bool) {
        self.fieldHeader(id, value ? .booleanTrue : .booleanFalse)
    }

    mutating func i16(_ id: Int16, _ value: Int16) {
        self.fieldHeader(id, .i16)
        self.varint(Self.zigzag(Int64(value)))
    }

    mutating func i8(_ id: Int16, _ value: Int8) {
        self.fieldHeader(id, .i8)
        self.bytes.append(UInt8(bitPattern: value))
    }

    mutating func i32(_ id: Int16, _ value: Int32) {
        self.fieldHeader(id, .i32)
        self.varint(Self.zigzag(Int64(value)))
    }

    mutating func i64(_ id: Int16, _ value: Int64) {
        self.fieldHeader(id, .i64)
        self.varint(Self.zigzag(value))
    }

    mutating func binary(_ id: Int16, _ value: some Collection<UInt8>) {
        self.fieldHeader(id, .binary)
        self.binaryValue(value)
    }

    mutating func string(_ id: Int16, _ value: String) {
        self.binary(id, value.utf8)
    }

    /// A nested struct (or union: one field) whose fields `body` writes.
    mutating func structure(_ id: Int16, _ body: (inout ThriftCompactWriter) -> Void) {
        self.fieldHeader(id, .structure)
        self.structureValue(body)
    }

    /// An empty struct: the members of Parquet's unions that carry no value (`StringType`, `MILLIS`).
    mutating func emptyStructure(_ id: Int16) {
        self.structure(id) { _ in }
    }

    // MARK: Lists

    mutating func list(_ id: Int16, i32 values: [Int32]) {
        self.fieldHeader(id, .list)
        self.listHeader(count: values.count, element: .i32)
        for value in values { self.varint(Self.zigzag(Int64(value))) }
    }

    mutating func list(_ id: Int16, i64 values: [Int64]) {
        self.fieldHeader(id, .list)
        self.listHeader(count: values.count, element: .i64)
        for value in values { self.varint(Self.zigzag(value)) }
    }

    /// A list of booleans: elements are one byte each, 1 for true and 0 for false; the element type
    /// is 2.
    mutating func list(_ id: Int16, bool values: [Bool]) {
        self.fieldHeader(id, .list)
        self.listHeader(count: values.count, element: .booleanFalse)
        for value in values { self.bytes.append(value ? 1 : 0) }
    }

    mutating func list(_ id: Int16, binary values: [[UInt8]]) {
        self.fieldHeader(id, .list)
        self.listHeader(count: values.count, element: .binary)
        for value in values { self.binaryValue(value) }
    }

    mutating func list(_ id: Int16, strings values: [String]) {
        self.list(id, binary: values.map { Array($0.utf8) })
    }

    /// A list of `count` structs, the `index`-th written by `body(&writer, index)`.
    mutating func list(_ id: Int16, structures count: Int, _ body: (inout ThriftCompactWriter, Int) -> Void) {
        self.fieldHeader(id, .list)
        self.listHeader(count: count, element: .structure)
        for index in 0..<count { self.structureValue { body(&$0, index) } }
    }

    // MARK: Encoding

    /// Writes the fields of a struct `body` makes, then its stop byte.
    mutating func structureValue(_ body: (inout ThriftCompactWriter) -> Void) {
        self.lastFieldIDs.append(0)
        body(&self)
        self.bytes.append(0)
        self.lastFieldIDs.removeLast()
    }

    private mutating func fieldHeader(_ id: Int16, _ type: FieldType) {
        let last = self.lastFieldIDs[self.lastFieldIDs.count - 1]
        precondition(id > last, "Thrift fields are written in increasing id order")
        let delta = id - last
        if delta <= 15 {
            self.bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            self.bytes.append(type.rawValue)
            self.varint(Self.zigzag(Int64(id)))
        }
        self.lastFieldIDs[self.lastFieldIDs.count - 1] = id
    }

    private mutating func listHeader(count: Int, element: FieldType) {
        if count < 15 {
            self.bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            self.bytes.append(0xF0 | element.rawValue)
            self.varint(UInt64(count))
        }
    }

    private mutating func binaryValue(_ value: some Collection<UInt8>) {
        self.varint(UInt64(value.count))
        self.bytes.append(contentsOf: value)
    }

    /// One raw byte.
    mutating func append(_ byte: UInt8) {
        self.bytes.append(byte)
    }

    /// An unsigned LEB128 number.
    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            self.bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        self.bytes.append(UInt8(rest))
    }

    /// Zigzag: 0, -1, 1, -2, … as 0, 1, 2, 3, …
    static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }
}
