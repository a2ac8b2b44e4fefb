/// How far the walk of one library had got: enough to continue it after a crash.
public struct WalkPosition: Sendable, Equatable, Codable {
    /// The count `get_size` announced.
    public var expected: Int
    /// The `start` of the next `list` call.
    public var nextStart: Int
    /// Distinct faces handed on so far.
    public var exported: Int
    /// Non-empty pages so far.
    public var pages: Int
    /// Faces dropped as repeats so far.
    public var duplicatesDropped: Int
    /// The tokens of the last page as the journal keeps them: each token after its length in UTF-8
    /// bytes and a colon (`32:…32:…`).
    ///
    /// `JSONEncoder` takes ten times as long over a thousand strings as over one, and the journal gets
    /// a line per page: the walk packs its keys' bytes here, without a `String` per token.
    var packedTokens: [UInt8]
    /// Whether the walk is in its second pass over a small library that moved.
    public var rewalking = false

    /// Creates a position.
    public init(
        expected: Int,
        nextStart: Int,
        exported: Int,
        pages: Int,
        duplicatesDropped: Int,
        lastPageTokens: [String],
        rewalking: Bool = false
    ) {
        self.init(
            expected: expected,
            nextStart: nextStart,
            exported: exported,
            pages: pages,
            duplicatesDropped: duplicatesDropped,
            packedTokens: Self.pack(lastPageTokens),
            rewalking: rewalking
        )
    }

    init(
        expected: Int,
        nextStart: Int,
        exported: Int,
        pages: Int,
        duplicatesDropped: Int,
        packedTokens: [UInt8],
        rewalking: Bool
    ) {
        self.expected = expected
        self.nextStart = nextStart
        self.exported = exported
        self.pages = pages
        self.duplicatesDropped = duplicatesDropped
        self.packedTokens = packedTokens
        self.rewalking = rewalking
    }

    /// The tokens of the last page, to drop its faces if the next page repeats them.
    public var lastPageTokens: [String] {
        (try? Self.unpack(self.packedTokens[...])) ?? []
    }

    /// `tokens` as ``packedTokens`` holds them.
    static func pack(_ tokens: [String]) -> [UInt8] {
        var packed: [UInt8] = []
        for token in tokens { Self.appendPacked(token.utf8, to: &packed) }
        return packed
    }

    /// Appends a token after its length in decimal and a colon, as ``packedTokens`` holds it.
    static func appendPacked(_ token: some Collection<UInt8>, to packed: inout [UInt8]) {
        // The length in decimal, without making a String for it.
        var divisor = 1
        while divisor * 10 <= token.count { divisor *= 10 }
        var rest = token.count
        while divisor > 0 {
            packed.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
        packed.append(UInt8(ascii: ":"))
        packed.append(contentsOf: token)
    }

    /// The tokens of packed bytes; nil when they are not length-prefixed tokens.
    private static func unpack(_ packed: ArraySlice<UInt8>) throws(UnpackError) -> [String] {
        var tokens: [String] = []
        var index = packed.startIndex
        while index < packed.endIndex {
            guard let colon = packed[index...].firstIndex(of: UInt8(ascii: ":")),
                let length = Int(String(decoding: packed[index..<colon], as: UTF8.self)),
                length >= 0, colon + 1 + length <= packed.endIndex
            else { throw UnpackError() }
            tokens.append(String(decoding: packed[(colon + 1)..<(colon + 1 + length)], as: UTF8.self))
            index = colon + 1 + length
        }
        return tokens
    }

    private struct UnpackError: Error {}
}

extension WalkPosition {
    private enum CodingKeys: String, CodingKey {
        case expected, nextStart, exported, pages, duplicatesDropped, lastPageTokens, rewalking
    }

    /// The journal keeps a page's tokens packed in one string (`packedTokens`); an array (journals
    /// of earlier versions) reads too.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.expected, forKey: .expected)
        try container.encode(self.nextStart, forKey: .nextStart)
        try container.encode(self.exported, forKey: .exported)
        try container.encode(self.pages, forKey: .pages)
        try container.encode(self.duplicatesDropped, forKey: .duplicatesDropped)
        try container.encode(String(decoding: self.packedTokens, as: UTF8.self), forKey: .lastPageTokens)
        if self.rewalking { try container.encode(true, forKey: .rewalking) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let expected = try container.decode(Int.self, forKey: .expected)
        let nextStart = try container.decode(Int.self, forKey: .nextStart)
        let exported = try container.decode(Int.self, forKey: .exported)
        let pages = try container.decode(Int.self, forKey: .pages)
        let duplicatesDropped = try container.decode(Int.self, forKey: .duplicatesDropped)
        let rewalking = try container.decodeIfPresent(Bool.self, forKey: .rewalking) ?? false
        let packed: [UInt8]
        if let tokens = try? container.decode([String].self, forKey: .lastPageTokens) {
            packed = Self.pack(tokens)
        } else {
            packed = Array(try container.decode(String.self, forKey: .lastPageTokens).utf8)
            guard (try? Self.unpack(packed[...])) != nil else {
                throw DecodingError.dataCorruptedError(
                    forKey: .lastPageTokens,
                    in: container,
                    debugDescription: "not a list of length-prefixed tokens"
                )
            }
        }
        self.init(
            expected: expected,
            nextStart: nextStart,
            exported: exported,
            pages: pages,
            duplicatesDropped: duplicatesDropped,
            packedTokens: packed,
            rewalking: rewalking
        )
    }
}
