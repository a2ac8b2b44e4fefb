/// A face token as a set member: its bytes held inline (up to 40, which every token the API documents
/// fits), so the walk's sets of tokens need no allocation, no `String` and no reference counting per
/// token. A longer token keeps its bytes in an array; equality is always on every byte.
struct FaceTokenKey: Hashable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    private var count: Int
    /// The bytes of a token longer than the inline words.
    private var longer: [UInt8]?

    private static let inlineCapacity = 40

    /// The key of the token whose UTF-8 bytes are `bytes`.
    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.count = bytes.count
        if bytes.count > Self.inlineCapacity {
            self.longer = Array(bytes)
            return
        }
        withUnsafeMutableBytes(of: &self.words) { words in
            words.copyMemory(from: UnsafeRawBufferPointer(bytes))
        }
    }

    /// The key of `token`.
    init(_ token: String) {
        var token = token
        self = token.withUTF8 { Self($0) }
    }

    /// Calls `body` with the token's bytes.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let longer = self.longer { return longer.withUnsafeBufferPointer(body) }
        return withUnsafeBytes(of: self.words) { words in
            body(UnsafeBufferPointer(rebasing: words.assumingMemoryBound(to: UInt8.self)[..<self.count]))
        }
    }

    /// The token as text.
    var string: String { self.withBytes { String(decoding: $0, as: UTF8.self) } }

    static func == (left: FaceTokenKey, right: FaceTokenKey) -> Bool {
        left.count == right.count && left.words.0 == right.words.0 && left.words.1 == right.words.1
            && left.words.2 == right.words.2 && left.words.3 == right.words.3 && left.words.4 == right.words.4
            && left.longer == right.longer
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(self.count)
        if let longer = self.longer {
            hasher.combine(longer)
            return
        }
        // Only the words the token reaches: the rest are zero for every token of its length.
        hasher.combine(self.words.0)
        hasher.combine(self.words.1)
        hasher.combine(self.words.2)
        hasher.combine(self.words.3)
        if self.count > 32 { hasher.combine(self.words.4) }
    }
}
