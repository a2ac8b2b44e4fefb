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
    /// The bounds' first eight bytes as one big-endian number (zero-padded): most values are
    /// ordered against a bound by these alone, without a call to `memcmp`.
    private var minimumPrefix: UInt64 = 0
    private var maximumPrefix: UInt64 = 0
    var nullCount: Int64 = 0

    init() {}

    /// Statistics with these bounds and nulls, as a journal carries them.
    init(
        minimumInteger: Int64?,
        maximumInteger: Int64?,
        minimumBytes: [UInt8]?,
        maximumBytes: [UInt8]?,
        nullCount: Int64
    ) {
        self.minimumInteger = minimumInteger
        self.maximumInteger = maximumInteger
        self.minimumBytes = minimumBytes
        self.maximumBytes = maximumBytes
        self.minimumPrefix = minimumBytes.map { $0.withUnsafeBufferPointer(Self.prefix) } ?? 0
        self.maximumPrefix = maximumBytes.map { $0.withUnsafeBufferPointer(Self.prefix) } ?? 0
        self.nullCount = nullCount
    }

    mutating func add(_ value: Int64) {
        if self.minimumInteger.map({ value < $0 }) ?? true { self.minimumInteger = value }
        if self.maximumInteger.map({ value > $0 }) ?? true { self.maximumInteger = value }
    }

    mutating func add(_ value: UnsafeBufferPointer<UInt8>) {
        let prefix = Self.prefix(value)
        if self.minimumBytes == nil
            || prefix < self.minimumPrefix
            || (prefix == self.minimumPrefix && Self.compare(value, self.minimumBytes!) < 0)
        {
            Self.store(value, in: &self.minimumBytes)
            self.minimumPrefix = prefix
        }
        if self.maximumBytes == nil
            || prefix > self.maximumPrefix
            || (prefix == self.maximumPrefix && Self.compare(value, self.maximumBytes!) > 0)
        {
            Self.store(value, in: &self.maximumBytes)
            self.maximumPrefix = prefix
        }
    }

    /// Makes `bound` `value`, in the bytes it already has where they suffice: a column whose values
    /// rise row after row (a library's timestamps) sets a new maximum at every value.
    private static func store(_ value: UnsafeBufferPointer<UInt8>, in bound: inout [UInt8]?) {
        guard bound != nil else {
            bound = Array(value)
            return
        }
        if bound!.count == value.count {
            // Values of one length (timestamps, tokens) are copied over the old bound.
            bound!.withUnsafeMutableBufferPointer {
                $0.baseAddress?.update(from: value.baseAddress!, count: value.count)
            }
            return
        }
        bound!.removeAll(keepingCapacity: true)
        bound!.append(contentsOf: value)
    }

    /// The first eight bytes of `value`, big-endian, zero-padded: unequal prefixes order their
    /// values as the values themselves (a value shorter than eight bytes is padded with zeros, which
    /// sort it before any value it is a prefix of, as it should); equal ones say nothing.
    static func prefix(_ value: UnsafeBufferPointer<UInt8>) -> UInt64 {
        if value.count >= 8 {
            return UInt64(bigEndian: UnsafeRawPointer(value.baseAddress!).loadUnaligned(as: UInt64.self))
        }
        var prefix: UInt64 = 0
        for index in 0..<value.count { prefix |= UInt64(value[index]) << (56 - 8 * index) }
        return prefix
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
