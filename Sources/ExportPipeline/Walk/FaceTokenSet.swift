#if canImport(Glibc)
import Glibc
#endif

/// A set of face tokens, compared by their bytes: the walk's record of the last page's tokens and of
/// the tokens handed on.
///
/// The tokens are kept one after the other in the journal's packed form (``packed``: each token after
/// its length in decimal and a colon, in the order inserted), found through an open-addressing table
/// of their 64-bit hashes. A page's thousand tokens cost no `String`, no allocation and no `Hasher`
/// each; the caller hashes a token once (``hash(_:seed:)``) for every set it asks.
struct FaceTokenSet: Sendable {
    private struct Entry {
        var hash: UInt64
        /// Where the token's bytes start in ``packed``.
        var start: UInt32
        var count: UInt32
    }

    /// The tokens, each after its length and a colon (`32:…32:…`), in the order inserted.
    private(set) var packed: [UInt8] = []
    private var entries: [Entry] = []
    /// Entry numbers by hash, linear probing; -1 is an empty slot. Its size is a power of two, at
    /// least twice the entries.
    private var slots: [Int32]

    /// An empty set with room for `capacity` tokens before it grows.
    init(minimumCapacity capacity: Int = 0) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        self.slots = Array(repeating: -1, count: size)
        self.entries.reserveCapacity(capacity)
        self.packed.reserveCapacity(capacity * 36)
    }

    /// Tokens held.
    var count: Int { self.entries.count }
    /// Whether no token is held.
    var isEmpty: Bool { self.entries.isEmpty }

    /// The hash of a token's bytes under `seed`: eight bytes at a time, then the rest, mixed with
    /// SplitMix64's finalizer. Not for secrets; a seed per walk keeps a server from choosing tokens
    /// that all collide.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt64) -> UInt64 {
        var hash = seed ^ (UInt64(bytes.count) &* 0x9E37_79B9_7F4A_7C15)
        let raw = UnsafeRawBufferPointer(bytes)
        var index = 0
        while index + 8 <= raw.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 31
            index += 8
        }
        if index < raw.count {
            var tail: UInt64 = 0
            for offset in index..<raw.count { tail |= UInt64(raw[offset]) << (8 * UInt64(offset - index)) }
            hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
        }
        hash ^= hash >> 30
        hash = hash &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 27
        hash = hash &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }

    /// Whether the token is in the set; `hash` is ``hash(_:seed:)`` of its bytes.
    func contains(_ token: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Bool {
        self.slot(of: token, hash: hash).found
    }

    /// Adds the token unless it is there; returns whether it was added.
    @discardableResult
    mutating func insert(_ token: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Bool {
        let (slot, found) = self.slot(of: token, hash: hash)
        if found { return false }
        WalkPosition.appendPacked(token, to: &self.packed)
        let bytesStart = self.packed.count - token.count
        self.slots[slot] = Int32(self.entries.count)
        self.entries.append(Entry(hash: hash, start: UInt32(bytesStart), count: UInt32(token.count)))
        if 2 * self.entries.count > self.slots.count { self.grow() }
        return true
    }

    /// The slot holding the token, or the empty slot where it would go.
    private func slot(of token: UnsafeBufferPointer<UInt8>, hash: UInt64) -> (slot: Int, found: Bool) {
        let mask = self.slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let number = self.slots[slot]
            if number < 0 { return (slot, false) }
            let entry = self.entries[Int(number)]
            if entry.hash == hash, entry.count == token.count, self.bytesEqual(entry, token) { return (slot, true) }
            slot = (slot + 1) & mask
        }
    }

    private func bytesEqual(_ entry: Entry, _ token: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = token.baseAddress, token.count > 0 else { return true }
        return self.packed.withUnsafeBufferPointer { packed in
            memcmp(packed.baseAddress! + Int(entry.start), base, token.count) == 0
        }
    }

    /// Doubles the table and places every entry again by its hash.
    private mutating func grow() {
        var slots = [Int32](repeating: -1, count: 2 * self.slots.count)
        let mask = slots.count - 1
        for (number, entry) in self.entries.enumerated() {
            var slot = Int(truncatingIfNeeded: entry.hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(number)
        }
        self.slots = slots
    }
}
