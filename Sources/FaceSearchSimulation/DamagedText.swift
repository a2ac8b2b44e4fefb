import Foundation

/// Text a buggy API release sends: `user_data` that is not valid UTF-8, for a share of the faces.
///
/// The faces are picked by their token, so the same faces are damaged on every call and every
/// night. The damage is made in the encoded answer: a marker (a Unicode noncharacter, which no
/// dataset holds) stands in the text until the body is written, then becomes the damaged bytes.
enum DamagedText: CaseIterable {
    /// `\ud800`: a high surrogate escape with no low one after it.
    case loneSurrogate
    /// The byte 0xFF, which UTF-8 never uses.
    case invalidByte

    /// The damage `token`'s face gets at `rate`, if any.
    static func damage(of token: String, rate: Double) -> DamagedText? {
        guard rate > 0 else { return nil }
        let hash = token.utf8.reduce(UInt64(5381)) { ($0 &* 33) &+ UInt64($1) }
        guard Double(hash % 10_000) < rate * 10_000 else { return nil }
        return hash / 10_000 % 2 == 0 ? .loneSurrogate : .invalidByte
    }

    var marker: String { String(Unicode.Scalar(self == .loneSurrogate ? 0xFDD0 : 0xFDD1)!) }

    private var bytes: [UInt8] { self == .loneSurrogate ? Array(#"\ud800"#.utf8) : [0xFF] }

    /// `body` with every marker replaced by its damage.
    static func apply(to body: Data) -> Data {
        var output = [UInt8]()
        output.reserveCapacity(body.count)
        let markers = Self.allCases.map { (Array($0.marker.utf8), $0.bytes) }
        var index = body.startIndex
        while index < body.endIndex {
            if body[index] == 0xEF, let (marker, bytes) = markers.first(where: { body[index...].starts(with: $0.0) }) {
                output += bytes
                index += marker.count
            } else {
                output.append(body[index])
                index += 1
            }
        }
        return Data(output)
    }
}
