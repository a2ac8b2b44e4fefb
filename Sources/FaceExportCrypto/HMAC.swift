import CCryptoOpenSSL

/// Keyed message authentication codes computed by OpenSSL's libcrypto.
///
/// The FinAuth signature is HMAC-SHA1; pseudonymisation and manifests use the SHA-256 family.
public enum HMAC {
    /// The 20-byte HMAC-SHA1 of `message` under `key`.
    public static func sha1(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        self.compute(EVP_sha1(), digestLength: 20, key: Array(key), message: Array(message))
    }

    /// The 32-byte HMAC-SHA256 of `message` under `key`.
    public static func sha256(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        self.compute(EVP_sha256(), digestLength: 32, key: Array(key), message: Array(message))
    }

    private static func compute(
        _ digest: OpaquePointer?,
        digestLength: Int,
        key: [UInt8],
        message: [UInt8]
    ) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outputLength: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                output.withUnsafeMutableBufferPointer { outputBytes in
                    CCryptoOpenSSL.HMAC(
                        digest,
                        keyBytes.baseAddress,
                        Int32(keyBytes.count),
                        messageBytes.baseAddress,
                        messageBytes.count,
                        outputBytes.baseAddress,
                        &outputLength
                    )
                }
            }
        }
        // HMAC fails only when the digest is unavailable, which libcrypto guarantees for SHA-1 and SHA-256.
        precondition(result != nil && Int(outputLength) == digestLength, "libcrypto HMAC failed")
        return Array(output.prefix(digestLength))
    }
}

/// SHA-256 computed incrementally, for checksumming output files without holding them in memory.
public struct SHA256Digest: ~Copyable {
    private let context: OpaquePointer

    /// Starts a new digest.
    public init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("libcrypto could not start a SHA-256 digest")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(self.context) }

    /// Adds `bytes` to the digest.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(self.context, bytes.baseAddress, bytes.count)
    }

    /// The digest of everything added so far, as 64 lower-case hex digits; the digest goes on.
    public func hexDigestSoFar() -> String {
        guard let copy = EVP_MD_CTX_new() else { fatalError("libcrypto could not copy a SHA-256 digest") }
        defer { EVP_MD_CTX_free(copy) }
        guard EVP_MD_CTX_copy_ex(copy, self.context) == 1 else {
            fatalError("libcrypto could not copy a SHA-256 digest")
        }
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(copy, &output, &length)
        return Hex.encode(output)
    }

    /// The digest of everything added, as 64 lower-case hex digits.
    public consuming func hexDigest() -> String {
        var output = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(self.context, &output, &length)
        return Hex.encode(output)
    }
}

/// Lower-case hexadecimal text of bytes: digests, pseudonyms, fingerprints, random ids.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Two lower-case hex digits per byte.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(Self.digits[Int(byte >> 4)])
            text.append(Self.digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
