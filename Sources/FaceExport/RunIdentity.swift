import FaceExportCrypto
import Foundation

/// How a run is named: its id and its `{date}`, both from its start, UTC.
enum RunIdentity {
    /// `YYYYMMDDTHHMMSSZ-xxxxxx`: sortable by start, unique across runs started in the same second.
    static func makeRunID(_ now: Date) -> String {
        Self.format(now, "yyyyMMdd'T'HHmmss'Z'") + "-" + Self.randomHex(3)
    }

    /// The run's `{date}`: its start, UTC, `YYYY-MM-DD`.
    static func utcDate(_ now: Date) -> String { Self.format(now, "yyyy-MM-dd") }

    /// `date` in UTC after `pattern` (a `DateFormatter` pattern).
    static func format(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }

    /// `bytes` random bytes as lowercase hex.
    static func randomHex(_ bytes: Int) -> String {
        Hex.encode((0..<bytes).map { _ in UInt8.random(in: 0...255) })
    }
}
