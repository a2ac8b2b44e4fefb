/// One of N shards of a pipeline's libraries, chosen by a stable hash of account and library id, so
/// the same library always falls in the same shard whichever machine runs it.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    /// This shard, 0 to `count - 1`.
    public let index: Int
    /// How many shards there are.
    public let count: Int

    /// Parses `K/N`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
            (0..<count).contains(index)
        else { return nil }
        self.index = index
        self.count = count
    }

    /// Whether the library belongs to this shard.
    public func contains(account: String, groupID: String) -> Bool {
        Int(Self.fnv1a64(account + "\u{0}" + groupID) % UInt64(self.count)) == self.index
    }

    /// `K-of-N`, as used in file names.
    public var description: String { "\(self.index)-of-\(self.count)" }

    /// FNV-1a, 64 bits: stable across runs, machines and Swift versions (unlike `Hasher`).
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
