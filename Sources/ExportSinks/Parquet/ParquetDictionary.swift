#if canImport(Glibc)
import Glibc
#endif

/// A column chunk's dictionary of byte strings: each distinct value once, PLAIN-encoded in the
/// order first seen, found again through an open-addressing table of hashes (no value is copied to
/// be looked up).
struct ParquetDictionary {
    /// The values, PLAIN-encoded (4-byte length, bytes): the dictionary page's body.
    private(set) var encoded: [UInt8] = []
    /// Where each value's bytes start in ``encoded``, their length and their hash.
    private var entries: [(start: Int, count: Int, hash: UInt64)] = []
    /// Index + 1 of the entry in each slot; 0 for an empty slot. A power of two long.
    private var slots: [Int32] = Array(repeating: 0, count: 1024)

    var count: Int { self.entries.count }

    /// The value's index, added if it is new; `hash` is the value's ``XXHash64``.
    mutating func index(of value: UnsafeBufferPointer<UInt8>, hash: UInt64) -> UInt32 {
        let mask = self.slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(self.slots[slot])
            if entry == 0 { break }
            if self.matches(entry - 1, value) { return UInt32(entry - 1) }
            slot = (slot + 1) & mask
        }
        let index = self.entries.count
        withUnsafeBytes(of: UInt32(value.count).littleEndian) { self.encoded.append(contentsOf: $0) }
        self.entries.append((self.encoded.count, value.count, hash))
        self.encoded.append(contentsOf: value)
        self.slots[slot] = Int32(index + 1)
        if self.entries.count * 2 > self.slots.count { self.grow() }
        return UInt32(index)
    }

    /// Whether the value at `index` is `value`.
    func holds(_ index: UInt32, equalTo value: UnsafeBufferPointer<UInt8>) -> Bool {
        self.matches(Int(index), value)
    }

    private func matches(_ index: Int, _ value: UnsafeBufferPointer<UInt8>) -> Bool {
        let entry = self.entries[index]
        guard entry.count == value.count else { return false }
        if entry.count == 0 { return true }
        return self.encoded.withUnsafeBufferPointer { bytes in
            memcmp(bytes.baseAddress! + entry.start, value.baseAddress!, entry.count) == 0
        }
    }

    private mutating func grow() {
        var slots = [Int32](repeating: 0, count: self.slots.count * 2)
        let mask = slots.count - 1
        for (index, entry) in self.entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
        self.slots = slots
    }
}

/// The RLE/bit-packing hybrid of `Encodings.md`: runs of eight or more equal values as RLE runs,
/// the rest bit-packed in groups of eight, least significant bit first.
enum ParquetHybridEncoding {
    /// The bits an index below `count` needs (at least 1).
    static func bitWidth(forCount count: Int) -> Int {
        max(1, Int.bitWidth - (max(count, 1) - 1).leadingZeroBitCount)
    }

    static func encode(_ values: [UInt32], bitWidth: Int, into output: inout ThriftCompactWriter) {
        let valueBytes = (bitWidth + 7) / 8
        var index = 0
        func runLength(at start: Int) -> Int {
            var end = start + 1
            while end < values.count && values[end] == values[start] { end += 1 }
            return end - start
        }
        while index < values.count {
            let run = runLength(at: index)
            if run >= 8 {
                output.varint(UInt64(run) << 1)
                for byte in 0..<valueBytes { output.append(UInt8(truncatingIfNeeded: values[index] >> (8 * byte))) }
                index += run
                continue
            }
            // Literal values, in groups of eight, until a run of eight begins on a group's boundary.
            let start = index
            while index < values.count {
                if (index - start) % 8 == 0 && index > start && runLength(at: index) >= 8 { break }
                index += 1
            }
            let groups = (index - start + 7) / 8
            output.varint(UInt64(groups) << 1 | 1)
            var buffer: UInt64 = 0
            var bits = 0
            for position in start..<start + groups * 8 {
                let value = position < index ? UInt64(values[position]) : 0
                buffer |= value << bits
                bits += bitWidth
                while bits >= 8 {
                    output.append(UInt8(truncatingIfNeeded: buffer))
                    buffer >>= 8
                    bits -= 8
                }
            }
            if bits > 0 { output.append(UInt8(truncatingIfNeeded: buffer)) }
        }
    }
}
