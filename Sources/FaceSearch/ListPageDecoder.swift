#if canImport(Glibc)
import Glibc
#endif

/// Decodes a `list` answer straight from its bytes into faces, in one pass without intermediate
/// objects: the exporter's hottest path (`JSONDecoder` costs about 2 s of CPU per million faces).
///
/// It handles the shape the API sends: an object with `face_tokens` (objects with `face_token`,
/// `user_id`, `user_data`, `add_time`), `next`, `request_id`, `error`, other keys skipped. Anything
/// else (a fractional `add_time`, an ISO-8601 time, a lone surrogate, invalid UTF-8, bad JSON) makes
/// it return nil, and the caller decodes the answer with `JSONDecoder`, which also words the error.
/// `get_size` answers (`face_count` as a whole number) are read the same way: two per library.
enum ListPageDecoder {
    /// What a `list` answer says.
    enum Answer: Equatable {
        /// A page of faces.
        case page(FacePage)
        /// An API error (`error` present), with its request id.
        case error(String, requestID: String?)
    }

    /// What a `get_size` answer says.
    enum SizeAnswer: Equatable {
        /// The library's face count (any whole number: the client judges it), with the request id.
        case count(Int, requestID: String?)
        /// An API error (`error` present), with its request id.
        case error(String, requestID: String?)
    }

    /// The decoded answer, or nil when the body is not in the common shape.
    ///
    /// With `repairingText`, text that is not valid UTF-8 and lone surrogate escapes are not a reason
    /// to give up: each ill-formed sequence becomes U+FFFD (as WHATWG's decoder, Go and Rust's lossy
    /// conversions make it) and the face says its text was repaired.
    static func decode(_ bytes: UnsafeRawBufferPointer, repairingText: Bool = false) -> Answer? {
        guard let members = Parser.members(of: bytes, call: .list, repairingText: repairingText) else { return nil }
        if let error = members.error { return .error(error, requestID: members.requestID) }
        // Without `face_tokens` the answer is malformed: `JSONDecoder` says so.
        guard var page = members.page else { return nil }
        page.next = members.next
        page.requestID = members.requestID
        return .page(page)
    }

    /// The decoded `get_size` answer, or nil when `face_count` is not a whole JSON number (a string,
    /// `null`, a fraction) or the body is not in the common shape.
    static func decodeSize(_ bytes: UnsafeRawBufferPointer) -> SizeAnswer? {
        guard let members = Parser.members(of: bytes, call: .size) else { return nil }
        if let error = members.error { return .error(error, requestID: members.requestID) }
        guard let count = members.count else { return nil }
        return .count(count, requestID: members.requestID)
    }

    /// Whether `bytes` from `start` are well-formed UTF-8 (as `String(validating:)` requires: no
    /// overlong forms, no surrogates, nothing above U+10FFFF).
    static func isValidUTF8(_ bytes: [UInt8], from start: Int) -> Bool {
        bytes.withUnsafeBufferPointer { Self.isValidUTF8($0, from: start) }
    }

    /// ``isValidUTF8(_:from:)`` over memory.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
        var index = start
        let end = bytes.count
        while index < end {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                high = 0x9F
            case 0xF0:
                length = 4
                low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                high = 0x8F
            default: return false
            }
            guard index + length <= end, (low...high).contains(bytes[index + 1]) else { return false }
            for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) { return false }
            index += length
        }
        return true
    }

    /// The call whose answer is read: which payload keys it has.
    private enum Call { case list, size }

    /// The members of an answer the client reads.
    private struct Members {
        var page: FacePage?
        var next: Int?
        var count: Int?
        var requestID: String?
        var error: String?
    }

    /// Text written into memory that has room for all of it: no growth, no check per append beyond
    /// the bound itself.
    private struct TextArena {
        private let room: UnsafeMutableBufferPointer<UInt8>
        private(set) var count = 0

        init(_ room: UnsafeMutableBufferPointer<UInt8>) {
            self.room = room
        }

        /// What has been written.
        var written: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: self.room[..<self.count]) }

        @inline(__always)
        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            precondition(bytes.count <= self.room.count - self.count, "text longer than its JSON")
            guard let source = bytes.baseAddress, bytes.count > 0 else { return }
            UnsafeMutableRawPointer(self.room.baseAddress! + self.count).copyMemory(
                from: source,
                byteCount: bytes.count
            )
            self.count += bytes.count
        }

        /// Forgets the last `count` bytes written.
        mutating func removeLast(_ count: Int) {
            self.count -= count
        }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            precondition(self.count < self.room.count, "text longer than its JSON")
            self.room[self.count] = byte
            self.count += 1
        }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let call: Call
        var index = 0
        /// Strings outside faces (`request_id`, `next`, a string `add_time`) are assembled here.
        private let scratch: UnsafeMutableBufferPointer<UInt8>
        /// Whether ill-formed text is replaced (U+FFFD) rather than a reason to give up.
        private let repairing: Bool
        /// Whether text of the face being read was repaired.
        private var repairedInFace = false
        /// Room for the text per byte of the body: unescaped text is never longer than its JSON, but
        /// a repaired byte (one invalid byte) becomes three (U+FFFD).
        private var roomPerByte: Int { self.repairing ? 3 : 1 }

        private init(
            bytes: UnsafeRawBufferPointer,
            call: Call,
            scratch: UnsafeMutableBufferPointer<UInt8>,
            repairing: Bool
        ) {
            self.bytes = bytes
            self.call = call
            self.scratch = scratch
            self.repairing = repairing
        }

        /// The members of the answer in `bytes` to `call`; nil when it is not in the common shape.
        static func members(of bytes: UnsafeRawBufferPointer, call: Call, repairingText: Bool = false) -> Members? {
            // Unescaped text is never longer than its JSON: the body's size is room for any string.
            let scratch = UnsafeMutableBufferPointer<UInt8>.allocate(
                capacity: max(1, bytes.count * (repairingText ? 3 : 1))
            )
            defer { scratch.deallocate() }
            var parser = Parser(bytes: bytes, call: call, scratch: scratch, repairing: repairingText)
            return parser.members()
        }

        /// The whole body as one object; nil when it is anything else or a member is not as expected.
        private mutating func members() -> Members? {
            guard self.consume(UInt8(ascii: "{")) else { return nil }
            var members = Members()
            if !self.consume(UInt8(ascii: "}")) {
                repeat {
                    guard let key = self.key() else { return nil }
                    switch key {
                    case .faceTokens:
                        guard let decoded = self.faces() else { return nil }
                        members.page = decoded
                    case .next:
                        // `next` as a number or a numeric string; anything else is ignored.
                        if self.peek() == UInt8(ascii: "\"") {
                            guard let text = self.string(), let number = Int(text.trimmingWhitespace) else {
                                return nil
                            }
                            members.next = number
                        } else if let number = self.integer() {
                            members.next = Int(number)
                        } else {
                            guard self.skipValue() else { return nil }
                        }
                    case .faceCount:
                        // Twice is for JSONDecoder to settle.
                        guard members.count == nil, let number = self.integer() else { return nil }
                        members.count = Int(number)
                    case .requestID:
                        guard let value = self.optionalString() else { return nil }
                        members.requestID = value
                    case .error:
                        guard let value = self.optionalString() else { return nil }
                        members.error = value
                    case .other:
                        guard self.skipValue() else { return nil }
                    }
                } while self.consume(UInt8(ascii: ","))
                guard self.consume(UInt8(ascii: "}")) else { return nil }
            }
            self.skipWhitespace()
            guard self.index == self.bytes.count else { return nil }
            return members
        }

        private enum TopKey { case faceTokens, next, faceCount, requestID, error, other }
        private enum FaceKey { case faceToken, userID, userData, addTime, other }

        /// A top-level key and its colon; the other call's payload keys are "other".
        private mutating func key() -> TopKey? {
            guard let name = self.rawString(), self.consume(UInt8(ascii: ":")) else { return nil }
            switch self.call {
            case .list:
                if Self.equals(name, "face_tokens") { return .faceTokens }
                if Self.equals(name, "next") { return .next }
            case .size:
                if Self.equals(name, "face_count") { return .faceCount }
            }
            if Self.equals(name, "request_id") { return .requestID }
            if Self.equals(name, "error") { return .error }
            return .other
        }

        /// A face's key and its colon: in place when written as the API writes it, otherwise scanned
        /// (the four names differ in length: one comparison per key).
        private mutating func faceKey() -> FaceKey? {
            self.skipWhitespace()
            if let known = self.knownFaceKey() { return known }
            guard let name = self.rawString(), self.consume(UInt8(ascii: ":")) else { return nil }
            switch name.count {
            case 10: return Self.equals(name, "face_token") ? .faceToken : .other
            case 7: return Self.equals(name, "user_id") ? .userID : .other
            case 9: return Self.equals(name, "user_data") ? .userData : .other
            case 8: return Self.equals(name, "add_time") ? .addTime : .other
            default: return .other
            }
        }

        /// One of the API's four face keys written as the API writes it (`"user_id":`, no space before
        /// the colon), matched in place by two overlapping 8-byte loads; nil for anything else.
        @inline(__always)
        private mutating func knownFaceKey() -> FaceKey? {
            let start = self.index + 1
            guard start + 12 <= self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else { return nil }
            let name: KnownKey
            switch self.bytes[start] {
            case UInt8(ascii: "f"): name = self.knownKeys.faceToken
            case UInt8(ascii: "a"): name = self.knownKeys.addTime
            case UInt8(ascii: "u"):
                name = self.bytes[start + 5] == UInt8(ascii: "i") ? self.knownKeys.userID : self.knownKeys.userData
            default: return nil
            }
            guard self.bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self) == name.head,
                self.bytes.loadUnaligned(fromByteOffset: start + name.count - 8, as: UInt64.self) == name.tail
            else { return nil }
            self.index = start + name.count
            return name.key
        }

        /// A face key with its closing quote and colon, as two overlapping 8-byte words.
        private struct KnownKey {
            let key: FaceKey
            let count: Int
            let head: UInt64
            let tail: UInt64

            init(_ key: FaceKey, _ text: StaticString) {
                let bytes = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
                self.key = key
                self.count = bytes.count
                self.head = bytes.loadUnaligned(as: UInt64.self)
                self.tail = bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self)
            }
        }

        /// The four keys, made once per page (a `static let` would pay a `swift_once` per key).
        private let knownKeys = (
            faceToken: KnownKey(.faceToken, "face_token\":"), userID: KnownKey(.userID, "user_id\":"),
            userData: KnownKey(.userData, "user_data\":"), addTime: KnownKey(.addTime, "add_time\":")
        )

        /// The faces, their text copied into the page's text, made with the body's size as its
        /// room (unescaped text is never longer than its JSON) and written in place.
        private mutating func faces() -> FacePage? {
            guard self.consume(UInt8(ascii: "[")) else { return nil }
            var spans: [FaceSpans] = []
            spans.reserveCapacity(1000)
            var complete = false
            let text = [UInt8](unsafeUninitializedCapacity: max(1, self.bytes.count * self.roomPerByte)) {
                room,
                initialized in
                var arena = TextArena(room)
                defer { initialized = arena.count }
                if self.consume(UInt8(ascii: "]")) {
                    complete = true
                    return
                }
                repeat {
                    guard let face = self.face(into: &arena) else { return }
                    spans.append(face)
                } while self.consume(UInt8(ascii: ","))
                complete = self.consume(UInt8(ascii: "]"))
            }
            return complete ? FacePage(text: text, spans: spans) : nil
        }

        private mutating func face(into page: inout TextArena) -> FaceSpans? {
            guard self.consume(UInt8(ascii: "{")) else { return nil }
            self.repairedInFace = false
            var token: TextSpan?
            var userID = TextSpan.empty
            var userData = TextSpan.empty
            var addTime: Int64?
            if !self.consume(UInt8(ascii: "}")) {
                repeat {
                    guard let key = self.faceKey() else { return nil }
                    switch key {
                    case .faceToken:
                        guard let span = self.text(into: &page) else { return nil }
                        token = span
                    case .userID:
                        guard let span = self.optionalText(into: &page) else { return nil }
                        userID = span
                    case .userData:
                        guard let span = self.optionalText(into: &page) else { return nil }
                        userData = span
                    case .addTime:
                        guard let value = self.timestamp() else { return nil }
                        addTime = value
                    case .other:
                        guard self.skipValue() else { return nil }
                    }
                } while self.consume(UInt8(ascii: ","))
                guard self.consume(UInt8(ascii: "}")) else { return nil }
            }
            // A face without a token or a time is for JSONDecoder to report.
            guard let token, let addTime else { return nil }
            return FaceSpans(
                faceToken: token,
                userID: userID,
                userData: userData,
                addTime: addTime,
                textRepaired: self.repairedInFace
            )
        }

        /// A string value appended to the page's text; its span.
        private mutating func text(into page: inout TextArena) -> TextSpan? {
            let start = page.count
            guard self.appendString(to: &page) else { return nil }
            return TextSpan(start: UInt32(start), count: UInt32(page.count - start))
        }

        /// A string value appended to the page's text, or the empty span for `null`.
        private mutating func optionalText(into page: inout TextArena) -> TextSpan? {
            if self.consumeLiteral("null") { return .empty }
            return self.text(into: &page)
        }

        /// Milliseconds as an integer or an integer string; other forms go to `JSONDecoder`.
        private mutating func timestamp() -> Int64? {
            if self.peek() == UInt8(ascii: "\"") {
                guard let text = self.string() else { return nil }
                return Int64(text.trimmingWhitespace)
            }
            return self.integer()
        }

        /// A whole JSON number; nil (and no progress) for fractions, exponents and overflow.
        private mutating func integer() -> Int64? {
            self.skipWhitespace()
            var position = self.index
            let negative = position < self.bytes.count && self.bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            let digitsStart = position
            var value: Int64 = 0
            // A millisecond time's first eight digits at once.
            if position + 8 <= self.bytes.count,
                let eight = Self.eightDigits(self.bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
            {
                value = Int64(eight)
                position += 8
            }
            let tailStart = position
            while position < self.bytes.count, self.bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > digitsStart else { return nil }
            if position - digitsStart <= 18 {
                // Eighteen digits cannot overflow: no check per digit (a millisecond time has thirteen).
                for index in tailStart..<position {
                    value = value &* 10 &+ Int64(self.bytes[index] &- UInt8(ascii: "0"))
                }
            } else {
                value = 0
                for index in digitsStart..<position {
                    let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = times.addingReportingOverflow(Int64(self.bytes[index] &- UInt8(ascii: "0")))
                    guard !overflow && !overflow2 else { return nil }
                    value = sum
                }
            }
            if position < self.bytes.count {
                let byte = self.bytes[position]
                guard byte != UInt8(ascii: "."), byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") else {
                    return nil
                }
            }
            self.index = position
            return negative ? -value : value
        }

        /// The number eight ASCII digits (first digit in the lowest byte) stand for; nil unless all
        /// eight are digits.
        @inline(__always)
        private static func eightDigits(_ word: UInt64) -> UInt64? {
            let high: UInt64 = 0xF0F0_F0F0_F0F0_F0F0
            let zeros: UInt64 = 0x3030_3030_3030_3030
            guard word & high == zeros, (word &+ 0x0606_0606_0606_0606) & high == zeros else { return nil }
            let digits = word &- zeros
            // Pairs, then fours, then the eight: each step multiplies the higher-order half and adds.
            let pairs = (digits &* 10 &+ (digits >> 8)) & 0x00FF_00FF_00FF_00FF
            let fours = (pairs &* 100 &+ (pairs >> 16)) & 0x0000_FFFF_0000_FFFF
            return (fours &* 10_000 &+ (fours >> 32)) & 0xFFFF_FFFF
        }

        /// A string, or `.some(nil)` for `null`.
        private mutating func optionalString() -> String?? {
            if self.consumeLiteral("null") { return .some(nil) }
            guard let text = self.string() else { return nil }
            return .some(text)
        }

        /// A string value, unescaped and checked to be UTF-8.
        private mutating func string() -> String? {
            // The scratch buffer, reused from one string to the next.
            var arena = TextArena(self.scratch)
            guard self.appendString(to: &arena) else { return nil }
            return String(decoding: arena.written, as: UTF8.self)
        }

        /// Appends a string value's bytes to `arena`, unescaped and checked to be UTF-8; false when the
        /// value is not such a string (what was appended is then of no use).
        private mutating func appendString(to arena: inout TextArena) -> Bool {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else { return false }
            let start = self.index + 1
            let begin = arena.count
            var position = start
            var ascii = true
            let highs: UInt64 = 0x8080_8080_8080_8080
            while position < self.bytes.count {
                // Eight bytes at a time while none ends the string, starts an escape or is a control byte.
                if position + 8 <= self.bytes.count {
                    let word = self.bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
                    let special = Self.specialBytes(word)
                    if special == 0 {
                        ascii = ascii && word & highs == 0
                        position += 8
                        continue
                    }
                    // The lowest flagged byte is the first special one: step over the plain bytes before it.
                    let plain = special.trailingZeroBitCount / 8
                    ascii = ascii && word & highs & ((1 << (plain * 8)) &- 1) == 0
                    position += plain
                }
                let byte = self.bytes[position]
                if byte == UInt8(ascii: "\"") {
                    self.index = position + 1
                    arena.append(UnsafeRawBufferPointer(rebasing: self.bytes[start..<position]))
                    // Pure ASCII (tokens, most ids) needs no validation.
                    return ascii || ListPageDecoder.isValidUTF8(arena.written, from: begin)
                        || self.repairing && self.repair(&arena, from: begin)
                }
                if byte == UInt8(ascii: "\\") {
                    arena.append(UnsafeRawBufferPointer(rebasing: self.bytes[start..<position]))
                    return self.appendEscaped(from: position, to: &arena)
                        && (ListPageDecoder.isValidUTF8(arena.written, from: begin)
                            || self.repairing && self.repair(&arena, from: begin))
                }
                guard byte >= 0x20 else { return false }
                ascii = ascii && byte < 0x80
                position += 1
            }
            return false
        }

        /// Rewrites the string written from `begin` with each ill-formed UTF-8 sequence as U+FFFD (the
        /// standard library's decoding replaces each maximal ill-formed subpart, as WHATWG does).
        private mutating func repair(_ arena: inout TextArena, from begin: Int) -> Bool {
            let written = UnsafeBufferPointer(rebasing: arena.written[begin...])
            let repaired = Array(String(decoding: written, as: UTF8.self).utf8)
            arena.removeLast(arena.count - begin)
            repaired.withUnsafeBytes { arena.append($0) }
            self.repairedInFace = true
            return true
        }

        /// The high bit of each of the eight bytes in `word` that is a quote, a backslash or a control
        /// byte (below 0x20); zero when none is. A byte equal to a value is a zero byte after XOR, and
        /// `(x - 0x01…) & ~x & 0x80…` finds zero bytes (and bytes below 0x20 without the XOR). The
        /// lowest flagged byte is always a true one; a borrow from it may flag plain bytes above it.
        @inline(__always)
        private static func specialBytes(_ word: UInt64) -> UInt64 {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            let control = (word &- ones &* 0x20) & ~word
            return ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash | control) & 0x8080_8080_8080_8080
        }

        /// The slow path of ``appendString(to:)``: the rest of a string, from its first escape.
        private mutating func appendEscaped(from escape: Int, to arena: inout TextArena) -> Bool {
            var position = escape
            while position < self.bytes.count {
                let byte = self.bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    self.index = position + 1
                    return true
                case UInt8(ascii: "\\"):
                    position += 1
                    guard position < self.bytes.count else { return false }
                    switch self.bytes[position] {
                    case UInt8(ascii: "\""): arena.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): arena.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): arena.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): arena.append(0x08)
                    case UInt8(ascii: "f"): arena.append(0x0C)
                    case UInt8(ascii: "n"): arena.append(0x0A)
                    case UInt8(ascii: "r"): arena.append(0x0D)
                    case UInt8(ascii: "t"): arena.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = self.hex4(at: position + 1) else { return false }
                        position += 4
                        if (0xD800..<0xDC00).contains(scalar) {
                            // A high surrogate must be followed by `\u` and a low one.
                            if position + 2 < self.bytes.count, self.bytes[position + 1] == UInt8(ascii: "\\"),
                                self.bytes[position + 2] == UInt8(ascii: "u"),
                                let low = self.hex4(at: position + 3), (0xDC00..<0xE000).contains(low)
                            {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                                position += 6
                            }
                        }
                        let unicode: Unicode.Scalar
                        if let valid = Unicode.Scalar(scalar) {
                            unicode = valid
                        } else {
                            // A lone surrogate: no character at all.
                            guard self.repairing else { return false }
                            unicode = "\u{FFFD}"
                            self.repairedInFace = true
                        }
                        for byte in UTF8.encode(unicode)! { arena.append(byte) }
                    default:
                        return false
                    }
                    position += 1
                default:
                    guard byte >= 0x20 else { return false }
                    arena.append(byte)
                    position += 1
                }
            }
            return false
        }

        private func hex4(at position: Int) -> UInt32? {
            guard position + 4 <= self.bytes.count else { return nil }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = self.bytes[position + offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        /// A key's bytes without unescaping (the API's keys have no escapes; one that has is "other").
        private mutating func rawString() -> UnsafeRawBufferPointer? {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else { return nil }
            var position = self.index + 1
            while position < self.bytes.count, self.bytes[position] != UInt8(ascii: "\"") {
                if self.bytes[position] == UInt8(ascii: "\\") { position += 1 }
                position += 1
            }
            guard position < self.bytes.count else { return nil }
            let name = UnsafeRawBufferPointer(rebasing: self.bytes[(self.index + 1)..<position])
            self.index = position + 1
            return name
        }

        private static func equals(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
            bytes.count == name.utf8CodeUnitCount
                && memcmp(bytes.baseAddress!, name.utf8Start, bytes.count) == 0
        }

        /// Skips any JSON value, checking only its structure.
        private mutating func skipValue() -> Bool {
            self.skipWhitespace()
            guard let byte = self.peek() else { return false }
            switch byte {
            case UInt8(ascii: "\""):
                return self.rawString() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                self.index += 1
                if self.consume(close) { return true }
                repeat {
                    if close == UInt8(ascii: "}") {
                        guard self.rawString() != nil, self.consume(UInt8(ascii: ":")) else { return false }
                    }
                    guard self.skipValue() else { return false }
                } while self.consume(UInt8(ascii: ","))
                return self.consume(close)
            case UInt8(ascii: "t"): return self.consumeLiteral("true")
            case UInt8(ascii: "f"): return self.consumeLiteral("false")
            case UInt8(ascii: "n"): return self.consumeLiteral("null")
            default:
                let start = self.index
                while let next = self.peekRaw(),
                    next == UInt8(ascii: "-") || next == UInt8(ascii: "+")
                        || next == UInt8(ascii: ".") || next == UInt8(ascii: "e") || next == UInt8(ascii: "E")
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(next)
                {
                    self.index += 1
                }
                return self.index > start
            }
        }

        private mutating func consumeLiteral(_ literal: StaticString) -> Bool {
            self.skipWhitespace()
            let count = literal.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count,
                memcmp(self.bytes.baseAddress! + self.index, literal.utf8Start, count) == 0
            else { return false }
            self.index += count
            return true
        }

        private mutating func consume(_ byte: UInt8) -> Bool {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        private mutating func peek() -> UInt8? {
            self.skipWhitespace()
            return self.peekRaw()
        }

        private func peekRaw() -> UInt8? {
            self.index < self.bytes.count ? self.bytes[self.index] : nil
        }

        private mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
                default: return
                }
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (what `FlexibleTimestamp` ignores).
    fileprivate var trimmingWhitespace: Substring {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
