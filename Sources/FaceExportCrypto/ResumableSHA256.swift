import CCryptoOpenSSL

/// SHA-256 computed incrementally whose state can be saved and taken up again by a later process:
/// a resumed upload goes on hashing its object from where the interrupted run stopped, without
/// the bytes it sent.
///
/// The saved state is libcrypto's `SHA256_CTX` as this machine lays it out (112 bytes): it is read
/// back by the same program on the same kind of machine, never exchanged.
public struct ResumableSHA256: Sendable {
    private var context = SHA256_CTX()

    /// Starts a new digest.
    public init() {
        SHA256_Init(&self.context)
    }

    /// Takes up a digest from ``savedState``; nil when `state` is not one.
    public init?(savedState state: [UInt8]) {
        guard state.count == MemoryLayout<SHA256_CTX>.size else { return nil }
        state.withUnsafeBytes { saved in withUnsafeMutableBytes(of: &self.context) { $0.copyMemory(from: saved) } }
        // What libcrypto itself would never hold: another digest length, or a block overfull.
        guard self.context.md_len == UInt32(SHA256_DIGEST_LENGTH), self.context.num < UInt32(SHA256_CBLOCK) else {
            return nil
        }
    }

    /// The digest's state, to be given to ``init(savedState:)``.
    public var savedState: [UInt8] {
        withUnsafeBytes(of: self.context) { Array($0) }
    }

    /// Adds `bytes` to the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        SHA256_Update(&self.context, base, bytes.count)
    }

    /// The digest of everything added so far, as 64 lower-case hex digits; the digest goes on.
    public func hexDigestSoFar() -> String {
        var copy = self.context
        var output = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        SHA256_Final(&output, &copy)
        return Hex.encode(output)
    }
}
