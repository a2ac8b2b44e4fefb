#if canImport(Glibc)
import Glibc
#endif

/// A split-block bloom filter (`BloomFilter.md`): blocks of eight 32-bit words, one bit set in each
/// word per value, the block chosen by the upper half of the value's xxHash64 and the bits by the
/// lower half. Sized for the values it holds at a false-positive rate of about 1% (at most about 2%).
struct ParquetBloomFilter {
    /// The words, block after block.
    private(set) var words: [UInt32]

    /// The specification's eight salts, one per word of a block.
    private static let salts = SIMD8<UInt32>(
        0x47b6_137b,
        0x4497_4d91,
        0x8824_ad5b,
        0xa2b7_289d,
        0x7054_95c7,
        0x2df1_424b,
        0x9efc_4947,
        0x5c6b_fb31
    )

    /// A filter for `distinctValues` values at about the false-positive rate `rate`: bytes a power of
    /// two from 32 to 128 MiB, as the specification bounds them. The power below the bits `rate`
    /// needs is taken when it falls short by less than 15% (the rate then at most about twice
    /// `rate`): rounding up would double the filter for a few more values.
    init(distinctValues: Int, rate: Double = 0.01) {
        let bits = -8 * Double(max(distinctValues, 1)) / log1p(-pow(rate, 1.0 / 8))
        var bytes = 32
        while Double(bytes * 8) < bits && bytes < 128 << 20 { bytes <<= 1 }
        if bytes > 32 && bits <= Double(bytes / 2 * 8) * 1.15 { bytes /= 2 }
        self.words = Array(repeating: 0, count: bytes / 4)
    }

    /// Sets the bits of the value whose xxHash64 is `hash`.
    mutating func insert(hash: UInt64) { self.insert(hashes: CollectionOfOne(hash)) }

    /// Sets the bits of the values whose xxHash64s are `hashes`: a block's eight words at once.
    mutating func insert(hashes: some Sequence<UInt64>) {
        let blocks = UInt64(self.words.count / 8)
        self.words.withUnsafeMutableBytes { words in
            for hash in hashes {
                let (offset, bits) = Self.block(hash, of: blocks)
                let block = words.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt32>.self)
                words.storeBytes(of: block | bits, toByteOffset: offset, as: SIMD8<UInt32>.self)
            }
        }
    }

    /// Whether the value whose xxHash64 is `hash` may have been inserted.
    func mayContain(hash: UInt64) -> Bool {
        let (offset, bits) = Self.block(hash, of: UInt64(self.words.count / 8))
        let block = self.words.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt32>.self) }
        return block & bits == bits
    }

    /// Where the block of `hash` starts (bytes), chosen by its upper half among `blocks`, and the bit
    /// its lower half sets in each of the block's words.
    private static func block(_ hash: UInt64, of blocks: UInt64) -> (offset: Int, bits: SIMD8<UInt32>) {
        let block = Int(((hash >> 32) &* blocks) >> 32)
        let key = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: hash))
        return (block * 32, SIMD8<UInt32>(repeating: 1) &<< ((key &* Self.salts) &>> 27))
    }

    /// The filter as the file holds it: `BloomFilterHeader` (block algorithm, xxHash, uncompressed),
    /// then the bitset, little-endian words.
    func encoded() -> [UInt8] {
        var header = ThriftCompactWriter()
        header.structureValue { filter in
            filter.i32(1, Int32(self.words.count * 4))
            filter.structure(2) { $0.emptyStructure(1) }
            filter.structure(3) { $0.emptyStructure(1) }
            filter.structure(4) { $0.emptyStructure(1) }
        }
        var bytes = header.bytes
        bytes.reserveCapacity(bytes.count + self.words.count * 4)
        for word in self.words { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }
}
