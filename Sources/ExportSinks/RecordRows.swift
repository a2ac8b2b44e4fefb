/// The records of one page, row after row: `width` cells each, in schema order, each text cell a
/// span of the rows' own bytes or of bytes borrowed from the page.
///
/// Flat arrays per page rather than a value per field: the transformer writes derived bytes once
/// and borrows the face's own, every sink reads them in place, and no field is a `String` of its
/// own (no allocation, no reference counting per value).
public struct RecordRows: Sendable {
    /// One value: where its UTF-8 bytes lie in ``text`` or ``borrowed``, or a whole number.
    public enum Cell: Sendable, Hashable {
        /// `count` bytes of ``RecordRows/text`` from `start`.
        case text(start: UInt32, count: UInt32)
        /// `count` bytes of ``RecordRows/borrowed`` from `start`.
        case borrowed(start: UInt32, count: UInt32)
        /// A whole number.
        case integer(Int64)
    }

    /// Values per row: the schema's column count.
    public let width: Int
    /// Every cell, row after row.
    public private(set) var cells: [Cell] = []
    /// The bytes of every text cell, one after the other.
    public private(set) var text: [UInt8] = []
    /// Bytes the rows share with where they came from (a page's text), read in place rather than
    /// copied: see ``borrow(_:)``.
    public private(set) var borrowed: [UInt8] = []

    /// Creates an empty batch with room for `capacity` rows and `textCapacity` bytes of text.
    public init(width: Int, capacity: Int = 0, textCapacity: Int = 0) {
        precondition(width > 0, "a record has at least one column")
        self.width = width
        self.cells.reserveCapacity(capacity * width)
        self.text.reserveCapacity(textCapacity)
    }

    /// Rows held.
    public var count: Int { self.cells.count / self.width }
    /// Whether no row is held.
    public var isEmpty: Bool { self.cells.isEmpty }

    /// Appends one row; it must hold `width` values.
    public mutating func append(row: some Collection<FieldValue>) {
        precondition(row.count == self.width, "a row holds one value per column")
        for value in row { self.append(value) }
    }

    /// Appends one value of the row being built; a row is complete after `width` of them.
    public mutating func append(_ value: FieldValue) {
        switch value {
        case .text(let text): self.appendText(text)
        case .integer(let number): self.appendInteger(number)
        }
    }

    /// Appends a whole number.
    @inline(__always)
    public mutating func appendInteger(_ number: Int64) {
        self.cells.append(.integer(number))
    }

    /// Appends text: the string's UTF-8 bytes.
    @inline(__always)
    public mutating func appendText(_ string: String) {
        withUTF8(of: string) { self.appendText($0) }
    }

    /// Appends text: UTF-8 `bytes`, copied.
    @inline(__always)
    public mutating func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
        let start = self.text.count
        self.text.append(contentsOf: bytes)
        self.cells.append(.text(start: UInt32(start), count: UInt32(bytes.count)))
    }

    /// Makes `bytes` the rows' ``borrowed`` bytes, shared rather than copied; returns false when the
    /// rows already borrow other bytes (the caller then copies with ``appendText(_:)-(UnsafeBufferPointer<UInt8>)``).
    public mutating func borrow(_ bytes: [UInt8]) -> Bool {
        if self.borrowed.isEmpty {
            self.borrowed = bytes
            return true
        }
        let mine = self.borrowed.withUnsafeBufferPointer { $0.baseAddress }
        return mine == bytes.withUnsafeBufferPointer { $0.baseAddress } && self.borrowed.count == bytes.count
    }

    /// Appends text: `count` bytes of ``borrowed`` from `start`.
    @inline(__always)
    public mutating func appendBorrowed(start: UInt32, count: UInt32) {
        precondition(Int(start) + Int(count) <= self.borrowed.count, "a borrowed span lies in the borrowed bytes")
        self.cells.append(.borrowed(start: start, count: count))
    }

    /// Appends text that `write` appends to the arena (a formatted time, a hash), without an
    /// intermediate string.
    @inline(__always)
    public mutating func appendText(writing write: (inout [UInt8]) -> Void) {
        let start = self.text.count
        write(&self.text)
        self.cells.append(.text(start: UInt32(start), count: UInt32(self.text.count - start)))
    }

    /// The value at `column` of row `row`, as a ``FieldValue`` (a new `String` for text: for tests
    /// and previews, not the hot path).
    public func value(row: Int, column: Int) -> FieldValue {
        switch self.cells[row * self.width + column] {
        case .text(let start, let count):
            .text(String(decoding: self.text[Int(start)..<Int(start + count)], as: UTF8.self))
        case .borrowed(let start, let count):
            .text(String(decoding: self.borrowed[Int(start)..<Int(start + count)], as: UTF8.self))
        case .integer(let number): .integer(number)
        }
    }

    /// The values of row `index`, as ``FieldValue``s (see ``value(row:column:)``).
    public subscript(row index: Int) -> [FieldValue] {
        (0..<self.width).map { self.value(row: index, column: $0) }
    }

    /// Calls `body` with a reader over the rows, valid only inside `body`.
    public func withReader<Result, Failure: Error>(
        _ body: (Reader) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try self.cells.withUnsafeBufferPointer { (cells) throws(Failure) -> Result in
            try self.text.withUnsafeBufferPointer { (text) throws(Failure) -> Result in
                try self.borrowed.withUnsafeBufferPointer { (borrowed) throws(Failure) -> Result in
                    try body(Reader(width: self.width, cells: cells, text: text, borrowed: borrowed))
                }
            }
        }
    }

    /// The rows' cells and bytes in place, for encoders and SQLite binds.
    public struct Reader {
        /// Values per row.
        public let width: Int
        let cells: UnsafeBufferPointer<Cell>
        let text: UnsafeBufferPointer<UInt8>
        let borrowed: UnsafeBufferPointer<UInt8>

        /// Rows held.
        public var count: Int { self.cells.count / self.width }

        /// The cell at `column` of row `row`.
        @inline(__always)
        public func cell(row: Int, column: Int) -> Cell {
            self.cells[row * self.width + column]
        }

        /// The bytes of a text cell (none for an integer).
        @inline(__always)
        public func bytes(of cell: Cell) -> UnsafeBufferPointer<UInt8> {
            switch cell {
            case .text(let start, let count):
                UnsafeBufferPointer(rebasing: self.text[Int(start)..<Int(start) + Int(count)])
            case .borrowed(let start, let count):
                UnsafeBufferPointer(rebasing: self.borrowed[Int(start)..<Int(start) + Int(count)])
            case .integer: UnsafeBufferPointer(start: nil, count: 0)
            }
        }
    }
}
