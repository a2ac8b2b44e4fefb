import Testing

@testable import ExportPipeline

/// The walk's token set against Swift's `Set<String>`: the same answers whatever the hashes, packed
/// as the journal reads them.
struct FaceTokenSetTests {
    /// Tokens of every length from 0 to 80, and tokens that differ only in their last byte.
    static let tokens: [String] =
        (0...80).map { String(repeating: "t", count: $0) } + (0..<300).map { "3eef8d05d9b8169f551e8a9d3001\($0)" }
        + ["é", "字😀", "a\u{0}b", "a\u{0}c"]

    @Test(arguments: ["seeded", "all collide", "two buckets"])
    func answersAsASetOfStringsDoes(hashing: String) {
        func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
            switch hashing {
            case "all collide": 0
            case "two buckets": UInt64(bytes.count % 2)
            default: FaceTokenSet.hash(bytes, seed: 42)
            }
        }
        var set = FaceTokenSet()
        var reference = Set<String>()
        // Every token twice, in two orders: the second insert must find the first.
        for token in Self.tokens + Self.tokens.reversed() {
            var copy = token
            let inserted = copy.withUTF8 { set.insert($0, hash: hash($0)) }
            #expect(inserted == reference.insert(token).inserted, "\(Array(token.utf8))")
        }
        #expect(set.count == reference.count)
        for token in Self.tokens + ["tt\u{1}", "3eef8d05d9b8169f551e8a9d3001300", ""] {
            var copy = token
            #expect(copy.withUTF8 { set.contains($0, hash: hash($0)) } == reference.contains(token))
        }
        let position = WalkPosition(
            expected: 0,
            nextStart: 1,
            exported: 0,
            pages: 0,
            duplicatesDropped: 0,
            packedTokens: set.packed,
            rewalking: false
        )
        #expect(position.lastPageTokens == Self.tokens, "packed in the order inserted, each once")
    }

    @Test func hashesTellTheLastByteApartAndDependOnTheSeed() {
        var hashes = Set<UInt64>()
        for token in Self.tokens {
            var copy = token
            hashes.insert(copy.withUTF8 { FaceTokenSet.hash($0, seed: 1) })
        }
        #expect(hashes.count == Self.tokens.count)
        var token = "3eef8d05d9b8169f551e8a9d300128db"
        #expect(token.withUTF8 { FaceTokenSet.hash($0, seed: 1) != FaceTokenSet.hash($0, seed: 2) })
    }
}
