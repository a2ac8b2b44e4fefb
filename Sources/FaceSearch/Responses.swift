import Foundation

/// One face of a library, as `list` returns it.
public struct Face: Sendable, Hashable {
    /// The face's unique token.
    public var faceToken: String
    /// The opaque user id; empty when the API sent none.
    public var userID: String
    /// The opaque user data; empty when the API sent none.
    public var userData: String
    /// When the face was added, in Unix milliseconds.
    public var addTime: Int64

    /// Creates a face.
    public init(faceToken: String, userID: String, userData: String, addTime: Int64) {
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
    }
}

/// Where a text field of a face lies in its page's ``FacePage/text``.
public struct TextSpan: Sendable, Hashable {
    /// No bytes.
    public static let empty = TextSpan(start: 0, count: 0)

    /// Offset of the first byte.
    public var start: UInt32
    /// Length in bytes.
    public var count: UInt32

    /// Creates a span.
    public init(start: UInt32, count: UInt32) {
        self.start = start
        self.count = count
    }

    /// The span's bytes in its page's text (``FacePage/withText(_:)``).
    @inlinable
    public func bytes(in text: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: text[Int(self.start)..<Int(self.start) + Int(self.count)])
    }
}

/// One face of a page as spans into the page's bytes: no `String` of its own.
public struct FaceSpans: Sendable, Hashable {
    /// The face's token.
    public var faceToken: TextSpan
    /// The user id; empty when the API sent none.
    public var userID: TextSpan
    /// The user data; empty when the API sent none.
    public var userData: TextSpan
    /// When the face was added, in Unix milliseconds.
    public var addTime: Int64
    /// Whether some of the face's text was not valid UTF-8 (or a lone surrogate) as the API sent it,
    /// and was repaired: each ill-formed sequence replaced by U+FFFD.
    public var textRepaired = false
}

/// One answer of `list`: its faces' text in one byte arena, each face as spans into it.
///
/// The decoder copies every string's bytes (unescaped) into ``text`` once; the walk, the transform
/// and the sinks read them in place. ``faces`` makes ``Face`` values for tests and slow paths.
public struct FacePage: Sendable {
    /// The text of every face (token, user id, user data): unescaped UTF-8, one after the other.
    public internal(set) var text: [UInt8]
    /// The faces, in creation order.
    public private(set) var spans: [FaceSpans]
    /// The `next` start the server offered, if it sent one (the documents mention it, never show it).
    public var next: Int?
    /// The answer's `request_id`.
    public var requestID: String?

    /// Creates a page of `faces`.
    public init(faces: [Face], next: Int? = nil, requestID: String? = nil) {
        self.init(capacity: faces.count, textCapacity: 0, next: next, requestID: requestID)
        for face in faces { self.append(face) }
    }

    /// Creates an empty page with room for `capacity` faces and `textCapacity` bytes of text.
    /// A page of faces described by `spans` over `text`.
    init(text: [UInt8], spans: [FaceSpans]) {
        self.text = text
        self.spans = spans
    }

    init(capacity: Int, textCapacity: Int, next: Int? = nil, requestID: String? = nil) {
        self.text = []
        self.text.reserveCapacity(textCapacity)
        self.spans = []
        self.spans.reserveCapacity(capacity)
        self.next = next
        self.requestID = requestID
    }

    /// Faces held.
    public var count: Int { self.spans.count }
    /// Whether no face is held.
    public var isEmpty: Bool { self.spans.isEmpty }

    /// The faces as values (a `String` per field: for tests and slow paths).
    public var faces: [Face] { self.spans.indices.map(self.face(at:)) }

    /// Face `index` as a value.
    public func face(at index: Int) -> Face {
        let spans = self.spans[index]
        return Face(
            faceToken: self.string(spans.faceToken),
            userID: self.string(spans.userID),
            userData: self.string(spans.userData),
            addTime: spans.addTime
        )
    }

    /// The text of `span`, as a `String`.
    public func string(_ span: TextSpan) -> String {
        String(decoding: self.text[Int(span.start)..<Int(span.start + span.count)], as: UTF8.self)
    }

    /// Appends a face.
    public mutating func append(_ face: Face) {
        let token = self.appendText(face.faceToken.utf8)
        let userID = self.appendText(face.userID.utf8)
        let userData = self.appendText(face.userData.utf8)
        self.spans.append(FaceSpans(faceToken: token, userID: userID, userData: userData, addTime: face.addTime))
    }

    /// The faces at `indices`, without `next` or request id, sharing this page's text (no bytes copied).
    public func selecting(_ indices: [Int]) -> FacePage {
        var page = self
        page.next = nil
        page.requestID = nil
        if indices.count != self.spans.count { page.spans = indices.map { self.spans[$0] } }
        return page
    }

    /// Appends bytes to the text and returns their span.
    mutating func appendText(_ bytes: some Collection<UInt8>) -> TextSpan {
        let start = self.text.count
        self.text.append(contentsOf: bytes)
        return TextSpan(start: UInt32(start), count: UInt32(self.text.count - start))
    }

    /// Appends a face whose text the caller has already appended to ``text``.
    mutating func append(_ spans: FaceSpans) {
        self.spans.append(spans)
    }

    /// Calls `body` with the page's text in place.
    public func withText<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        self.text.withUnsafeBufferPointer(body)
    }
}

extension FacePage: Hashable {
    /// Pages are equal when they hold the same faces, `next` and request id, however their text is laid out.
    public static func == (left: FacePage, right: FacePage) -> Bool {
        left.faces == right.faces && left.next == right.next && left.requestID == right.requestID
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.faces)
        hasher.combine(self.next)
        hasher.combine(self.requestID)
    }
}

/// A face library as `group_list` describes it.
public struct GroupInfo: Sendable, Hashable {
    /// The library's id.
    public var groupID: String
    /// Its display name.
    public var groupName: String
    /// Its free-form data.
    public var groupData: String
    /// The face model version the library uses.
    public var modelVersion: String
    /// When it was created, in Unix milliseconds, if the API said.
    public var addTime: Int64?
}

/// `add_time` as any of the three forms the documents show: a JSON number of milliseconds, a numeric
/// string of milliseconds, or an ISO-8601 string with an offset.
struct FlexibleTimestamp: Decodable {
    let milliseconds: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int64.self) {
            self.milliseconds = integer
        } else if let double = try? container.decode(Double.self),
            let milliseconds = Self.milliseconds(double)
        {
            self.milliseconds = milliseconds
        } else {
            let text = try container.decode(String.self).trimmingCharacters(in: .whitespaces)
            if let integer = Int64(text) {
                self.milliseconds = integer
            } else if let double = Double(text), text.allSatisfy({ $0.isNumber || $0 == "." }),
                let milliseconds = Self.milliseconds(double)
            {
                self.milliseconds = milliseconds
            } else if let parsed = Timestamp.parseISO8601(text) {
                self.milliseconds = parsed
            } else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "add_time '\(text.prefix(40))' is neither milliseconds nor ISO-8601"
                )
            }
        }
    }
}

extension FlexibleTimestamp {
    /// A fractional time rounded to whole milliseconds; nil when it is not finite or beyond `Int64`
    /// (an answer that says so is malformed, not a reason to stop the process).
    fileprivate static func milliseconds(_ value: Double) -> Int64? {
        Int64(exactly: value.rounded())
    }
}

/// `next` as a number or a numeric string; anything else is ignored.
struct FlexibleInteger: Decodable {
    let value: Int?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int.self) {
            self.value = integer
        } else if let text = try? container.decode(String.self) {
            self.value = Int(text.trimmingCharacters(in: .whitespaces))
        } else {
            self.value = nil
        }
    }
}

struct FaceBody: Decodable {
    let face_token: String
    let user_id: String?
    let user_data: String?
    let add_time: FlexibleTimestamp
}

struct ListBody: Decodable {
    let request_id: String?
    let face_tokens: [FaceBody]
    let next: FlexibleInteger?
}

struct SizeBody: Decodable {
    let request_id: String?
    let face_count: FlexibleInteger
}

struct GroupInfoBody: Decodable {
    let group_id: String
    let group_name: String?
    let group_data: String?
    let model_version: String?
    let add_time: FlexibleTimestamp?
}

struct GroupListBody: Decodable {
    let request_id: String?
    let group_infos: [GroupInfoBody]
}

/// The fields every error answer may carry.
struct ErrorBody: Decodable {
    let error: String?
    let request_id: String?
}

extension FacePage {
    init(_ body: ListBody) {
        self.init(
            faces: body.face_tokens.map {
                Face(
                    faceToken: $0.face_token,
                    userID: $0.user_id ?? "",
                    userData: $0.user_data ?? "",
                    addTime: $0.add_time.milliseconds
                )
            },
            next: body.next?.value,
            requestID: body.request_id
        )
    }
}

extension GroupInfo {
    init(_ body: GroupInfoBody) {
        self.groupID = body.group_id
        self.groupName = body.group_name ?? ""
        self.groupData = body.group_data ?? ""
        self.modelVersion = body.model_version ?? ""
        self.addTime = body.add_time?.milliseconds
    }
}
