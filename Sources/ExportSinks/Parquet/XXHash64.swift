/// xxHash64 (seed 0), the hash Parquet's bloom filters use, from its specification
/// (`doc/xxhash_spec.md` in Cyan4973/xxHash).
enum XXHash64 {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    static func hash(_ input: UnsafeBufferPointer<UInt8>, seed: UInt64 = 0) -> UInt64 {
        let count = input.count
        var position = 0
        var hash: UInt64
        if count >= 32 {
            var lanes = (
                seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1
            )
            while position + 32 <= count {
                lanes.0 = Self.round(lanes.0, Self.read64(input, position))
                lanes.1 = Self.round(lanes.1, Self.read64(input, position + 8))
                lanes.2 = Self.round(lanes.2, Self.read64(input, position + 16))
                lanes.3 = Self.round(lanes.3, Self.read64(input, position + 24))
                position += 32
            }
            hash =
                Self.rotate(lanes.0, 1) &+ Self.rotate(lanes.1, 7) &+ Self.rotate(lanes.2, 12)
                &+ Self.rotate(lanes.3, 18)
            hash = Self.merge(hash, lanes.0)
            hash = Self.merge(hash, lanes.1)
            hash = Self.merge(hash, lanes.2)
            hash = Self.merge(hash, lanes.3)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= UInt64(count)
        while position + 8 <= count {
            hash ^= Self.round(0, Self.read64(input, position))
            hash = Self.rotate(hash, 27) &* Self.prime1 &+ Self.prime4
            position += 8
        }
        if position + 4 <= count {
            hash ^= UInt64(Self.read32(input, position)) &* Self.prime1
            hash = Self.rotate(hash, 23) &* Self.prime2 &+ Self.prime3
            position += 4
        }
        while position < count {
            hash ^= UInt64(input[position]) &* Self.prime5
            hash = Self.rotate(hash, 11) &* Self.prime1
            position += 1
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }

    private static func round(_ accumulator: UInt64, _ lane: UInt64) -> UInt64 {
        Self.rotate(accumulator &+ lane &* Self.prime2, 31) &* Self.prime1
    }

    private static func merge(_ hash: UInt64, _ lane: UInt64) -> UInt64 {
        (hash ^ Self.round(0, lane)) &* Self.prime1 &+ Self.prime4
    }

    private static func rotate(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }

    private static func read64(_ input: UnsafeBufferPointer<UInt8>, _ position: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(input.baseAddress! + position).loadUnaligned(as: UInt64.self))
    }

    private static func read32(_ input: UnsafeBufferPointer<UInt8>, _ position: Int) -> UInt32 {
        UInt32(littleEndian: UnsafeRawPointer(input.baseAddress! + position).loadUnaligned(as: UInt32.self))
    }
}
