import FaceExportCrypto
public import Foundation

/// Computes FinAuth signatures as the authentication guide describes.
///
/// ```
/// raw  = "a=<api_key>&b=<expire_time>&c=<current_time>&d=<random>"
/// sign = Base64( HMAC-SHA1(key: api_secret, message: raw) ++ raw )
/// ```
/// A signature is computed afresh for every attempt, so a retry never re-sends an expired one.
public struct RequestSigner: Sendable {
    /// Where the signer reads the current Unix time in seconds; injectable for tests.
    public typealias WallClock = @Sendable () -> Int64

    /// Seconds between `current_time` and `expire_time`; the vendor's samples use 100.
    public var validity: Int64
    private let credentials: FaceSearchCredentials
    private let now: WallClock

    /// Creates a signer for one account.
    public init(
        credentials: FaceSearchCredentials,
        validity: Int64 = 100,
        now: @escaping WallClock = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.credentials = credentials
        self.validity = validity
        self.now = now
    }

    /// A fresh signature valid from now for `validity` seconds.
    public func makeSignature() -> String {
        let current = self.now()
        let random = UInt64.random(in: 0..<10_000_000_000)
        return Self.signature(
            credentials: self.credentials,
            expireTime: current + self.validity,
            currentTime: current,
            random: Self.tenDigits(random)
        )
    }

    /// The signature for explicit parameters; `random` is sent as given (leading zeros included).
    public static func signature(
        credentials: FaceSearchCredentials,
        expireTime: Int64,
        currentTime: Int64,
        random: String
    ) -> String {
        let raw = Array("a=\(credentials.apiKey)&b=\(expireTime)&c=\(currentTime)&d=\(random)".utf8)
        let digest = HMAC.sha1(key: Array(credentials.apiSecret.utf8), message: raw)
        return Data(digest + raw).base64EncodedString()
    }

    private static func tenDigits(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
    }
}
