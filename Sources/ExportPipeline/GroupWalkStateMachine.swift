public import FaceSearch

/// How one library's export ended.
public enum GroupStatus: String, Sendable, Codable {
    /// Every face the library held was exported, and the count matches `get_size`.
    case complete
    /// The library changed while it was walked: `get_size` differed before and after, or the faces
    /// exported do not add up to it. Reported, never passed off as complete.
    case changedDuringExport = "changed_during_export"
    /// The server refused to page further (`start` cap): faces past that point are missing.
    case incomplete
    /// The library could not be exported.
    case failed
}

/// The walk of one library through `get_size` and `list`, as events in and actions out.
///
/// The walker feeds it the answers of its calls (after retries) and performs the actions it returns:
/// fetch the size, fetch a page, hand faces on, fetch the size again, finish. It starts at 1, computes
/// the next start from what it received (or the server's `next`), drops faces repeated across a page
/// boundary, stops at an empty page or once it has passed the size `get_size` announced, and then
/// asks `get_size` again: the library is complete only if both sizes and the faces exported agree.
///
/// Offsets move when faces are deleted during the walk: every page after the first is asked from one
/// position *before* the first face not yet seen, so its first face must be one the last page held.
/// When it is not, faces were deleted before the offset and the walk steps back (1, 2, 4, … positions,
/// at most a page) until it finds the last page again, so no face that stayed is skipped. Faces added
/// during the walk come after all others (the API sorts by creation time) and are picked up or not,
/// as the walk's end falls; the second `get_size` says the library changed either way.
public struct GroupWalkStateMachine: Sendable {
    /// What the walker does next.
    public enum Action: Sendable, Equatable {
        /// Call `get_size`.
        case fetchSize
        /// Call `list` from `start`.
        case fetchPage(start: Int)
        /// Hand these faces on, then call `list` from `start`.
        case emitAndFetch([Face], start: Int)
        /// Hand these faces on, then call `get_size` again to confirm the walk.
        case emitAndConfirmSize([Face])
        /// Call `get_size` again to confirm the walk.
        case confirmSize
        /// Finish without faces to hand on.
        case finish(GroupWalkResult)
    }

    private enum State: Sendable {
        case idle
        case sizing
        /// `start` is where the page asked for begins; `next` is the first position no page has covered.
        case walking(expected: Int, start: Int)
        case confirming(expected: Int, next: Int)
        case finished
    }

    /// The largest `start` the vendor documents; a strict server refuses more.
    public static let documentedStartCap = 1000

    private var state: State = .idle
    /// Where the last page received started, and whether the walk already retried at the cap.
    private var lastPageStart = 0
    private var triedStartCap = false
    private let pageSize: Int
    private var exported = 0
    private var pages = 0
    private var duplicates = 0
    private var previousPageTokens: Set<String> = []
    /// The first position no page has covered yet.
    private var next = 1
    /// Steps back taken to find the last page again after deletions shifted the offsets.
    private var realignments = 0

    /// Creates the walk of one library with pages of `pageSize` faces.
    public init(pageSize: Int) {
        precondition(pageSize > 0)
        self.pageSize = pageSize
    }

    /// Continues a walk an interrupted run journaled: ``start()`` then asks for the next page.
    public init(pageSize: Int, resumingFrom position: WalkPosition) {
        self.init(pageSize: pageSize)
        self.resumePosition = position
    }

    private var resumePosition: WalkPosition?

    /// Where the walk stands after the last page received, for the run's journal.
    public var position: WalkPosition? {
        let expected: Int
        let start: Int
        switch self.state {
        case .walking(let walkingExpected, _), .confirming(let walkingExpected, _):
            (expected, start) = (walkingExpected, self.next)
        default:
            return nil
        }
        return WalkPosition(
            expected: expected,
            nextStart: start,
            exported: self.exported,
            pages: self.pages,
            duplicatesDropped: self.duplicates,
            // In no particular order: sorting a page of tokens for every journal line costs more than it tells.
            lastPageTokens: Array(self.previousPageTokens)
        )
    }

    /// Begins the walk.
    public mutating func start() -> Action {
        precondition(self.isIdle, "a walk starts once")
        if let position = self.resumePosition {
            self.exported = position.exported
            self.pages = position.pages
            self.duplicates = position.duplicatesDropped
            self.previousPageTokens = Set(position.lastPageTokens)
            self.next = position.nextStart
            let request = self.overlappingStart
            self.state = .walking(expected: position.expected, start: request)
            return .fetchPage(start: request)
        }
        self.state = .sizing
        return .fetchSize
    }

    /// `get_size` answered.
    public mutating func sizeReceived(_ count: Int) -> Action {
        guard case .sizing = self.state else { preconditionFailure("size received out of order") }
        self.state = .walking(expected: count, start: 1)
        return .fetchPage(start: 1)
    }

    /// The second `get_size`, after the walk, answered.
    public mutating func confirmedSizeReceived(_ count: Int) -> Action {
        guard case .confirming(let expected, _) = self.state else { preconditionFailure("size received out of order") }
        self.state = .finished
        var result = self.result(
            status: count == expected && self.exported == expected ? .complete : .changedDuringExport,
            expected: expected
        )
        result.expectedAfter = count
        return .finish(result)
    }

    /// A call failed for good (after the walker's retries).
    public mutating func callFailed(_ error: FaceSearchError) -> Action {
        if case .confirming(let expected, _) = self.state {
            // The walk itself is done: judge it by the first size, and say the second is unknown.
            self.state = .finished
            var result = self.result(
                status: self.exported == expected ? .complete : .changedDuringExport,
                expected: expected
            )
            result.error = "the size could not be confirmed after the walk: \(error)"
            return .finish(result)
        }
        if case .walking(let expected, let start) = self.state, error.isStartOutOfRange, !self.triedStartCap,
            start > Self.documentedStartCap, self.lastPageStart < Self.documentedStartCap,
            Self.documentedStartCap < self.next
        {
            // A strict server: one more page from the documented cap reaches up to cap + limit - 1;
            // the faces it repeats from the last page are dropped as duplicates.
            self.triedStartCap = true
            self.state = .walking(expected: expected, start: Self.documentedStartCap)
            return .fetchPage(start: Self.documentedStartCap)
        }
        var result = self.result(status: .failed, expected: self.expected)
        result.error = error.description
        if case .walking(let expected, _) = self.state, error.isStartOutOfRange, self.next > 1 {
            // The server caps `start`: what lies beyond is unreachable, not failed.
            result.status = .incomplete
            result.unreachable = max(0, expected - (self.next - 1))
        }
        self.state = .finished
        return .finish(result)
    }

    /// `list` answered with `page`.
    public mutating func pageReceived(_ page: FacePage) -> Action {
        guard case .walking(let expected, let start) = self.state else {
            preconditionFailure("page received out of order")
        }
        if page.faces.isEmpty {
            self.state = .confirming(expected: expected, next: self.next)
            return .confirmSize
        }
        if start < self.next, !self.previousPageTokens.isEmpty, let first = page.faces.first,
            !self.previousPageTokens.contains(first.faceToken)
        {
            // The page should have begun inside the last one: faces before it were deleted and the
            // offsets moved left. Step back until the last page shows again.
            let back = min(self.pageSize, max(2, 2 * (self.next - start)))
            let earlier = max(1, self.next - back)
            if earlier < start {
                self.realignments += 1
                self.state = .walking(expected: expected, start: earlier)
                return .fetchPage(start: earlier)
            }
        }
        self.pages += 1
        self.lastPageStart = start
        var fresh: [Face] = []
        fresh.reserveCapacity(page.faces.count)
        var pageTokens = Set<String>(minimumCapacity: page.faces.count)
        var seenBefore = 0
        for face in page.faces {
            guard pageTokens.insert(face.faceToken).inserted else {
                self.duplicates += 1  // twice in one page
                continue
            }
            if self.previousPageTokens.contains(face.faceToken) {
                seenBefore += 1
            } else {
                fresh.append(face)
            }
        }
        // The positions before `next` were asked for again on purpose; more old faces than that are repeats.
        self.duplicates += max(0, seenBefore - max(0, self.next - start))
        self.previousPageTokens = pageTokens
        self.exported += fresh.count

        let computedNext = start + page.faces.count
        // A server's `next` is used only if it moves forward; anything else would loop or skip.
        self.next = max(self.next, page.next.flatMap { $0 > start ? $0 : nil } ?? computedNext)
        if fresh.isEmpty || self.next - 1 >= expected {
            // A page of faces already seen is the end as surely as an empty one.
            self.state = .confirming(expected: expected, next: self.next)
            return fresh.isEmpty ? .confirmSize : .emitAndConfirmSize(fresh)
        }
        let request = self.overlappingStart
        self.state = .walking(expected: expected, start: request)
        return .emitAndFetch(fresh, start: request)
    }

    /// Where the next page is asked from: one position before the first face not yet seen.
    private var overlappingStart: Int { max(1, self.next - 1) }

    private var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// The size `get_size` announced (or the journal kept), while the walk asks for pages.
    var expected: Int? {
        if case .walking(let expected, _) = self.state { return expected }
        return nil
    }

    private func result(status: GroupStatus, expected: Int?) -> GroupWalkResult {
        GroupWalkResult(
            status: status,
            expected: expected,
            exported: self.exported,
            pages: self.pages,
            duplicatesDropped: self.duplicates
        )
    }
}

/// What the walk of one library found.
public struct GroupWalkResult: Sendable, Equatable, Codable {
    /// How the walk ended.
    public var status: GroupStatus
    /// The count `get_size` announced, if it answered.
    public var expected: Int?
    /// The count `get_size` announced after the walk, if it was asked and answered.
    public var expectedAfter: Int?
    /// Distinct faces handed on.
    public var exported: Int
    /// Non-empty pages received.
    public var pages: Int
    /// Faces received twice across a page boundary and dropped.
    public var duplicatesDropped: Int
    /// Faces beyond the server's `start` cap, for an incomplete walk.
    public var unreachable: Int?
    /// Why the walk failed or stopped early.
    public var error: String?

    /// Creates a result.
    public init(
        status: GroupStatus,
        expected: Int?,
        exported: Int,
        pages: Int,
        duplicatesDropped: Int,
        unreachable: Int? = nil,
        error: String? = nil
    ) {
        self.status = status
        self.expected = expected
        self.exported = exported
        self.pages = pages
        self.duplicatesDropped = duplicatesDropped
        self.unreachable = unreachable
        self.error = error
    }
}

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
    /// The tokens of the last page, to drop its faces if the next page repeats them.
    public var lastPageTokens: [String]
}

extension WalkPosition {
    private enum CodingKeys: String, CodingKey {
        case expected, nextStart, exported, pages, duplicatesDropped, lastPageTokens
    }

    /// The journal keeps a page's tokens as one string, each token after its length in UTF-8 bytes
    /// and a colon (`32:…32:…`): `JSONEncoder` takes ten times as long over a thousand strings as over
    /// one, and the journal gets a line per page. An array (journals of earlier versions) reads too.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.expected, forKey: .expected)
        try container.encode(self.nextStart, forKey: .nextStart)
        try container.encode(self.exported, forKey: .exported)
        try container.encode(self.pages, forKey: .pages)
        try container.encode(self.duplicatesDropped, forKey: .duplicatesDropped)
        var packed: [UInt8] = []
        packed.reserveCapacity(self.lastPageTokens.reduce(0) { $0 + $1.utf8.count + 4 })
        // By index: iterating would copy (retain and release) every token.
        for index in self.lastPageTokens.indices {
            let token = self.lastPageTokens[index].utf8
            packed.append(contentsOf: String(token.count).utf8)
            packed.append(UInt8(ascii: ":"))
            if token.withContiguousStorageIfAvailable({ packed.append(contentsOf: $0) }) == nil {
                packed.append(contentsOf: token)
            }
        }
        try container.encode(String(decoding: packed, as: UTF8.self), forKey: .lastPageTokens)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.expected = try container.decode(Int.self, forKey: .expected)
        self.nextStart = try container.decode(Int.self, forKey: .nextStart)
        self.exported = try container.decode(Int.self, forKey: .exported)
        self.pages = try container.decode(Int.self, forKey: .pages)
        self.duplicatesDropped = try container.decode(Int.self, forKey: .duplicatesDropped)
        if let tokens = try? container.decode([String].self, forKey: .lastPageTokens) {
            self.lastPageTokens = tokens
            return
        }
        let packed = Array(try container.decode(String.self, forKey: .lastPageTokens).utf8)
        var tokens: [String] = []
        var index = 0
        while index < packed.count {
            guard let colon = packed[index...].firstIndex(of: UInt8(ascii: ":")),
                let length = Int(String(decoding: packed[index..<colon], as: UTF8.self)),
                length >= 0, colon + 1 + length <= packed.count
            else {
                throw DecodingError.dataCorruptedError(
                    forKey: .lastPageTokens,
                    in: container,
                    debugDescription: "not a list of length-prefixed tokens"
                )
            }
            tokens.append(String(decoding: packed[(colon + 1)..<(colon + 1 + length)], as: UTF8.self))
            index = colon + 1 + length
        }
        self.lastPageTokens = tokens
    }
}
