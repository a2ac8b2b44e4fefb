import CZlib

/// CRC-32 (the gzip and PNG polynomial) through zlib, which computes it several bytes at a time.
public enum CRC32 {
    /// The CRC of `bytes`, continuing from `seed` (the CRC of what came before; 0 to start).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return seed }
        var crc = UInt(seed)
        var offset = 0
        // zlib takes a 32-bit length: longer input goes in pieces.
        while offset < bytes.count {
            let length = min(bytes.count - offset, Int(UInt32.max >> 1))
            crc = crc32(crc, (base + offset).assumingMemoryBound(to: Bytef.self), uInt(length))
            offset += length
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// The CRC of `bytes`, continuing from `seed`.
    public static func checksum(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
        if let crc = bytes.withContiguousStorageIfAvailable({ Self.checksum(UnsafeRawBufferPointer($0), seed: seed) }) {
            return crc
        }
        return Array(bytes).withUnsafeBytes { Self.checksum($0, seed: seed) }
    }
}
