public import Foundation

/// The service root of a FaceSearch deployment, e.g. `https://api-sgp.yljz.com`.
///
/// Calls are made to `<root>/finauth/search/group/<call>`. Plain `http` is accepted only for loopback
/// hosts (a local simulator): personal data never crosses a network unencrypted.
public struct FaceSearchEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The service root without a trailing slash.
    public let root: URL

    /// Parses and checks a service root as a user copies it from the vendor.
    public init(_ text: String) throws(FaceSearchError) {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        // Users sometimes paste the whole call URL; accept it and keep the root.
        if let range = trimmed.range(of: "/finauth/search/group") {
            trimmed = String(trimmed[..<range.lowerBound])
        }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else {
            throw FaceSearchError.invalidEndpoint("'\(text)' is not a URL such as https://api-sgp.yljz.com")
        }
        switch scheme {
        case "https":
            break
        case "http":
            guard Self.isLoopback(host: host) else {
                throw FaceSearchError.invalidEndpoint(
                    "plain http is refused for '\(host)': use https, or http only to a loopback simulator"
                )
            }
        default:
            throw FaceSearchError.invalidEndpoint("scheme '\(scheme)' is not supported: use https")
        }
        self.root = url
    }

    /// The URL of one call, e.g. `list`.
    public func url(for call: String) -> URL {
        self.root.appendingPathComponent("finauth/search/group/\(call)")
    }

    public var description: String { self.root.absoluteString }

    /// Whether `host` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
    public static func isLoopback(host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { UInt8($0) != nil }
    }
}
