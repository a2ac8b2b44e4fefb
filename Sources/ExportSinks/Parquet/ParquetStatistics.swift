#if canImport(Glibc)
import Glibc
#endif

/// The smallest and largest value of a page or a column chunk, and its nulls (`Statistics`).
///
/// Integers compare signed, byte arrays unsigned byte by byte: the orders `TYPE_ORDER` defines for
/// the types faceexport writes. Byte arrays longer than ``maximumLength`` are written truncated, as
/// the spec allows: the minimum to a prefix, the maximum to a prefix with its last ASCII byte
/// raised, both valid UTF-8, and marked as not exact.
struct ParquetStatistics {
    /// Bytes of a byte array's bound written at most.
    static let maximumLength = 64

    private(set) var minimumInteger: Int64?
    private(set) var maximumInteger: Int64?
    private(set) var minimumBytes: [UInt8]?
    private(set) var maximumBytes: [UInt8]?
    var nullCount: Int64 = 0

    mutating func add(_ value: Int64) {
        if self.minimumInteger.map({ value < $0 }) ?? true { self.minimumInteger = value }
        if self.maximumInteger.map({ value > $0 }) ?? true { self.maximumInteger = value }
    }

    mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
        if self.minimumBytes.map({ Self.compare(value, $0) < 0 }) ?? true { self.minimumBytes = Array(value) }
        if self.maximumBytes.map({ Self.compare(value, $0) > 0 }) ?? true { self.maximumBytes = Array(value) }
    }

    /// Takes `other`'s values in: a chunk's statistics are its pages'.
    mutating func merge(_ other: ParquetStatistics) {
        if let value = other.minimumInteger { self.add(value) }
        if let value = other.maximumInteger { self.add(value) }
        for value in [other.minimumBytes, other.maximumBytes].compactMap({ $0 }) {
            value.withUnsafeBufferPointer { self.add($0) }
        }
        self.nullCount += other.nullCount
    }

    /// The bounds as the spec encodes them (PLAIN, byte arrays without their length), truncated;
    /// nil where there is none.
    func bounds(for type: ParquetColumn.PhysicalType) -> (minimum: [UInt8]?, maximum: [UInt8]?) {
        switch type {
        case .int64:
            return (self.minimumInteger.map(Self.littleEndian64), self.maximumInteger.map(Self.littleEndian64))
        case .int32:
            return (
                self.minimumInteger.map { Self.littleEndian32(Int32(truncatingIfNeeded: $0)) },
                self.maximumInteger.map { Self.littleEndian32(Int32(truncatingIfNeeded: $0)) }
            )
        case .byteArray:
            return (self.minimumBytes.map(Self.truncatedMinimum), self.maximumBytes.flatMap(Self.truncatedMaximum))
        }
    }

    /// Writes the `Statistics` struct's fields.
    func encode(into writer: inout ThriftCompactWriter, type: ParquetColumn.PhysicalType) {
        let bounds = self.bounds(for: type)
        writer.i64(3, self.nullCount)
        if let maximum = bounds.maximum { writer.binary(5, maximum) }
        if let minimum = bounds.minimum { writer.binary(6, minimum) }
        if bounds.maximum != nil { writer.bool(7, bounds.maximum == self.maximumBytes || type != .byteArray) }
        if bounds.minimum != nil { writer.bool(8, bounds.minimum == self.minimumBytes || type != .byteArray) }
    }

    /// Unsigned byte-wise order: negative, zero or positive as `a` sorts before, with or after `b`.
    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Int {
        b.withUnsafeBufferPointer { b in
            // Most values differ in their first eight bytes: compared as one big-endian number.
            if a.count >= 8 && b.count >= 8 {
                let first = UInt64(bigEndian: UnsafeRawPointer(a.baseAddress!).loadUnaligned(as: UInt64.self))
                let second = UInt64(bigEndian: UnsafeRawPointer(b.baseAddress!).loadUnaligned(as: UInt64.self))
                if first != second { return first < second ? -1 : 1 }
            }
            let common = min(a.count, b.count)
            if common > 0 {
                let order = memcmp(a.baseAddress!, b.baseAddress!, common)
                if order != 0 { return Int(order) }
            }
            return a.count - b.count
        }
    }

    /// A prefix of at most ``maximumLength`` bytes that ends where a character ends: no larger than `value`.
    static func truncatedMinimum(_ value: [UInt8]) -> [UInt8] {
        guard value.count > Self.maximumLength else { return value }
        var end = Self.maximumLength
        while end > 0 && value[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(value[..<end])
    }

    /// A value of at most ``maximumLength`` bytes no smaller than `value` and any value it is a
    /// prefix of: a prefix whose last ASCII byte below 0x7F is raised by one; nil when there is none.
    static func truncatedMaximum(_ value: [UInt8]) -> [UInt8]? {
        guard value.count > Self.maximumLength else { return value }
        var end = Self.maximumLength
        while end > 0 {
            end -= 1
            if value[end] < 0x7F { return Array(value[..<end]) + [value[end] + 1] }
        }
        return nil
    }

    static func littleEndian64(_ value: Int64) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func littleEndian32(_ value: Int32) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
