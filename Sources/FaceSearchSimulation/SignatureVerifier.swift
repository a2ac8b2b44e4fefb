import FaceExportCrypto
import Foundation
import Synchronization

/// Checks FinAuth signatures as the server side would: decode, split the digest from the raw text,
/// find the key's secret, recompute, compare, and check the validity window.
///
/// This is written from the authentication guide on its own, not shared with the client, so that a
/// mistake in the client's signer shows up as a rejection instead of agreeing with itself.
final class SignatureVerifier: Sendable {
    enum Rejection: Error, Equatable {
        /// Undecodable, malformed, or an unknown key: 403 `AUTHENTICATION_ERROR`.
        case unauthenticated
        /// The digest does not match: 403 `AUTHORIZATION_ERROR: INVALID_SIGN`.
        case invalidSign
        /// The validity window has passed: 403 `AUTHORIZATION_ERROR: EXPIRED_SIGN`.
        case expired
    }

    private let secrets: [String: String]
    /// Single-use signatures (`expire_time = 0`) already seen.
    private let usedOnce = Mutex<Set<String>>([])

    init(secrets: [String: String]) {
        self.secrets = secrets
    }

    /// The API key the signature was made with, if it is valid at `now` (Unix seconds).
    func verify(_ sign: String, now: Int64) throws(Rejection) -> String {
        guard let decoded = Data(base64Encoded: sign), decoded.count > 20 else { throw .unauthenticated }
        let bytes = [UInt8](decoded)
        let digest = Array(bytes[0..<20])
        let raw = Array(bytes[20...])
        guard let text = String(validating: raw, as: UTF8.self) else { throw .unauthenticated }
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, fields[String(parts[0])] == nil else { throw .unauthenticated }
            fields[String(parts[0])] = String(parts[1])
        }
        guard fields.count == 4, let key = fields["a"], let expireText = fields["b"], let currentText = fields["c"],
            let random = fields["d"], let expire = Int64(expireText), let current = Int64(currentText),
            (1...10).contains(random.count), random.allSatisfy(\.isASCII), UInt64(random) != nil
        else { throw .unauthenticated }
        guard let secret = self.secrets[key] else { throw .unauthenticated }
        guard HMAC.sha1(key: Array(secret.utf8), message: raw) == digest else { throw .invalidSign }
        if expire == 0 {
            let firstUse = self.usedOnce.withLock { $0.insert(sign).inserted }
            guard firstUse else { throw .expired }
        } else {
            guard current < expire else { throw .invalidSign }
            guard now <= expire else { throw .expired }
        }
        return key
    }
}
