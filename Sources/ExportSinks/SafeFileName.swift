import FaceExportCrypto

/// Group ids (and account and pipeline names) made safe as one component of a file path.
///
/// - Letters, digits, `-`, `_` and `.` stay; every other byte becomes `%XX` (so `/`, `\`, `%`, `@`,
///   `#`, `&` and spaces cannot act as separators or shell surprises), and a leading `.` does too, so
///   no name is hidden, `.` or `..`.
/// - Names Windows reserves (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, in any case and
///   with any extension) get a leading `_`.
/// - A name with an upper-case letter gets `~` and 8 hex digits of its SHA-256, so ids that differ
///   only in case never collide on a case-insensitive file system. The mapping is stable across runs.
public enum SafeFileName {
    private static let reserved: Set<String> =
        Set(["CON", "PRN", "AUX", "NUL"] + (1...9).flatMap { ["COM\($0)", "LPT\($0)"] })

    /// The safe form of `name`.
    public static func make(_ name: String) -> String {
        var bytes: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for (index, byte) in name.utf8.enumerated() {
            let isSafe =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || (byte == UInt8(ascii: ".") && index > 0)
            if isSafe {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
        }
        var safe = String(decoding: bytes, as: UTF8.self)
        if safe.isEmpty { safe = "%00" }
        let stem = safe.split(separator: ".", maxSplits: 1).first.map { String($0).uppercased() } ?? ""
        if Self.reserved.contains(stem) { safe = "_" + safe }
        if name.contains(where: \.isUppercase) {
            var digest = SHA256Digest()
            var copy = name
            copy.withUTF8 { digest.update(UnsafeRawBufferPointer($0)) }
            safe += "~" + String(digest.hexDigest().prefix(8))
        }
        return safe
    }
}
