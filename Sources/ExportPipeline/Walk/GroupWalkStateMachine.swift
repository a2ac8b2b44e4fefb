public import FaceSearch

/// How one library's export ended.
public enum GroupStatus: String, Sendable, Codable {
    /// The export's guarantee holds: every face present in the library for the whole of its walk was
    /// exported exactly once. When the library was edited during the walk, the result says so
    /// (``GroupWalkResult/changedDuringExport``): faces added or deleted meanwhile may or may not be there.
    case complete
    /// The library changed while it was walked and the walk cannot show that no face present
    /// throughout was skipped (more than a page deleted between two calls), or the pipeline asks for
    /// an unchanged library (`on_changed: fail`). Reported, never passed off as complete.
    case changedDuringExport = "changed_during_export"
    /// The server refused to page further (`start` cap): faces past that point are missing.
    case incomplete
    /// The library could not be exported.
    case failed
    /// The library was walked to its end, but its size could not be asked (`get_size` unavailable to
    /// the key), so the export could not be reconciled with it.
    case unverified
}

/// The walk of one library through `get_size` and `list`, as events in and actions out.
///
/// The walker feeds it the answers of its calls (after retries) and performs the actions it returns:
/// fetch the size, fetch a page, hand faces on, fetch the size again, finish. It starts at 1, computes
/// the next start from what it received (or the server's `next`), drops faces repeated across a page
/// boundary, stops at an empty page or once it has passed the size `get_size` announced, and then
/// asks `get_size` again. When both sizes and the faces exported agree, nothing moved.
///
/// Offsets move when faces are deleted during the walk: every page after the first is asked from one
/// position *before* the first face not yet seen, so its first face must be one the last page held.
/// When it is not, faces were deleted before the offset and the walk steps back (1, 2, 4, … positions,
/// at most a page) until it finds the last page again, so no face that stayed is skipped. Faces added
/// during the walk come after all others (the API sorts by creation time) and are picked up or not,
/// as the walk's end falls; the second `get_size` says the library changed either way.
///
/// A walk that kept its overlap on every page kept the export's guarantee (every face present
/// throughout exported exactly once): a moved size makes it `complete` with `changedDuringExport`.
/// A small library (at most ``rewalkPages`` pages) that moved is walked once more from 1, handing on
/// only faces not handed on yet, so the export converges on what the library holds at the end.
/// Only a walk that lost its overlap (more than a page deleted between two calls) ends
/// `changed_during_export`, as does any change under ``ChangedLibraryPolicy/fail``.
public struct GroupWalkStateMachine: Sendable {
    /// What the walker does next.
    public enum Action: Sendable, Equatable {
        /// Call `get_size`.
        case fetchSize
        /// Call `list` from `start`.
        case fetchPage(start: Int)
        /// Hand these faces on, then call `list` from `start`.
        case emitAndFetch(FacePage, start: Int)
        /// Hand these faces on, then call `get_size` again to confirm the walk.
        case emitAndConfirmSize(FacePage)
        /// Hand these faces on and finish: the walk's size cannot be confirmed.
        case emitAndFinish(FacePage, GroupWalkResult)
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
    /// A library that moved during its walk is walked once more when it spans at most this many pages.
    public static let rewalkPages = 3
    /// The size of a library whose size could not be asked: the walk ends at an empty page.
    static let unknownSize = Int.max

    private var state: State = .idle
    /// Where the last page received started, and whether the walk already retried at the cap.
    private var lastPageStart = 0
    private var triedStartCap = false
    private let pageSize: Int
    private var exported = 0
    private var pages = 0
    private var duplicates = 0
    private var previousPageTokens = FaceTokenSet()
    /// The first position no page has covered yet.
    private var next = 1
    /// Steps back taken to find the last page again after deletions shifted the offsets.
    private var realignments = 0
    /// Whether a page did not overlap the last one and the walk could step back no further: faces
    /// present throughout may have been skipped.
    private var lostTrack = false
    /// Whether a pass of the walk ended with sizes or counts that disagree.
    private var moved = false
    /// Whether this is the second pass over a small library that moved.
    private var rewalking = false
    /// Every token handed on, kept only for libraries small enough to walk twice.
    private var handedOn: FaceTokenSet?
    /// The seed of the walk's token hashes.
    private let hashSeed = UInt64.random(in: .min ... .max)
    /// Distinct faces received in the current pass (handed on now or in the first pass).
    private var passSeen = 0
    /// The size `get_size` announced before the walk (nil for a walk resumed from the journal).
    private var firstSize: Int?
    private let onChanged: ChangedLibraryPolicy

    /// Creates the walk of one library with pages of `pageSize` faces.
    public init(pageSize: Int, onChanged: ChangedLibraryPolicy = .accept) {
        precondition(pageSize > 0)
        self.pageSize = pageSize
        self.onChanged = onChanged
    }

    /// Continues a walk an interrupted run journaled: ``start()`` then asks for the next page.
    public init(pageSize: Int, onChanged: ChangedLibraryPolicy = .accept, resumingFrom position: WalkPosition) {
        self.init(pageSize: pageSize, onChanged: onChanged)
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
            packedTokens: self.previousPageTokens.packed,
            rewalking: self.rewalking
        )
    }

    /// Begins the walk.
    public mutating func start() -> Action {
        precondition(self.isIdle, "a walk starts once")
        if let position = self.resumePosition {
            self.exported = position.exported
            self.pages = position.pages
            self.duplicates = position.duplicatesDropped
            self.previousPageTokens = FaceTokenSet(minimumCapacity: position.lastPageTokens.count)
            for token in position.lastPageTokens {
                var token = token
                token.withUTF8 { bytes in
                    _ = self.previousPageTokens.insert(bytes, hash: FaceTokenSet.hash(bytes, seed: self.hashSeed))
                }
            }
            self.next = position.nextStart
            self.passSeen = position.exported
            if position.rewalking {
                // What the first pass handed on is not journaled: the second pass ends here.
                self.rewalking = true
                self.moved = true
                self.state = .confirming(expected: position.expected, next: position.nextStart)
                return .confirmSize
            }
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
        if self.onChanged == .accept && count <= Self.rewalkPages * self.pageSize {
            // Sized for the library (and a few added during the walk): no rehashing as it fills.
            self.handedOn = FaceTokenSet(minimumCapacity: count + count / 8 + 16)
        }
        self.firstSize = count
        self.state = .walking(expected: count, start: 1)
        return .fetchPage(start: 1)
    }

    /// `get_size` is not available to the key: the library is walked to an empty page and ends
    /// ``GroupStatus/unverified``.
    public mutating func sizeUnavailable() -> Action {
        guard case .sizing = self.state else { preconditionFailure("size refused out of order") }
        self.state = .walking(expected: Self.unknownSize, start: 1)
        return .fetchPage(start: 1)
    }

    /// The walk reached its end: ask the size again, or finish when it cannot be asked.
    private mutating func walkEnded(expected: Int, emitting fresh: FacePage) -> Action {
        guard expected == Self.unknownSize else {
            self.state = .confirming(expected: expected, next: self.next)
            return fresh.isEmpty ? .confirmSize : .emitAndConfirmSize(fresh)
        }
        self.state = .finished
        var result = self.result(expected: nil)
        if result.status == .complete {
            result.status = .unverified
            result.error = "get_size is not available to this key: walked to the end, not reconciled with a size"
        }
        return fresh.isEmpty ? .finish(result) : .emitAndFinish(fresh, result)
    }

    /// The second `get_size`, after the walk, answered.
    public mutating func confirmedSizeReceived(_ count: Int) -> Action {
        guard case .confirming(let expected, _) = self.state else { preconditionFailure("size received out of order") }
        let movedNow = count != expected || self.passSeen != expected
        // `handedOn` is kept only while the library is small enough to walk twice.
        if movedNow, !self.rewalking, !self.lostTrack, self.handedOn != nil, count <= Self.rewalkPages * self.pageSize {
            // Cheap enough to converge: once more from 1, handing on only what is new.
            self.moved = true
            self.rewalking = true
            self.next = 1
            self.passSeen = 0
            self.previousPageTokens = FaceTokenSet()
            self.state = .walking(expected: count, start: 1)
            return .fetchPage(start: 1)
        }
        self.moved = self.moved || movedNow
        self.state = .finished
        var result = self.result(expected: self.firstSize ?? expected)
        result.expectedAfter = count
        return .finish(result)
    }

    /// A call failed for good (after the walker's retries).
    public mutating func callFailed(_ error: FaceSearchError) -> Action {
        if case .confirming(let expected, _) = self.state {
            // The walk itself is done: judge it by the first size, and say the second is unknown.
            self.moved = self.moved || self.passSeen != expected
            self.state = .finished
            var result = self.result(expected: self.firstSize ?? expected)
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
        var result = self.result(expected: self.expected)
        result.status = .failed
        result.error = error.description
        if case .walking(let expected, _) = self.state, error.isStartOutOfRange, self.next > 1 {
            // The server caps `start`: what lies beyond is unreachable, not failed.
            result.status = .incomplete
            if expected != Self.unknownSize { result.unreachable = max(0, expected - (self.next - 1)) }
        }
        self.state = .finished
        return .finish(result)
    }

    /// `list` answered with `page`.
    public mutating func pageReceived(_ page: FacePage) -> Action {
        guard case .walking(let expected, let start) = self.state else {
            preconditionFailure("page received out of order")
        }
        if page.isEmpty { return self.walkEnded(expected: expected, emitting: page) }
        // Every token's hash, once, from the page's bytes in place.
        let (hashes, firstIsKnown) = page.withText { text in
            let hashes = page.spans.map { FaceTokenSet.hash($0.faceToken.bytes(in: text), seed: self.hashSeed) }
            return (hashes, self.previousPageTokens.contains(page.spans[0].faceToken.bytes(in: text), hash: hashes[0]))
        }
        if start < self.next, !self.previousPageTokens.isEmpty, !firstIsKnown {
            // The page should have begun inside the last one: faces before it were deleted and the
            // offsets moved left. Step back until the last page shows again.
            let back = min(self.pageSize, max(2, 2 * (self.next - start)))
            let earlier = max(1, self.next - back)
            if earlier < start {
                self.realignments += 1
                self.state = .walking(expected: expected, start: earlier)
                return .fetchPage(start: earlier)
            }
            // A page back and still not the last page: more than a page was deleted between two calls,
            // and faces between may have been skipped. From position 1 nothing can be skipped.
            if start > 1 { self.lostTrack = true }
        }
        self.pages += 1
        self.lastPageStart = start
        var fresh: [Int] = []
        fresh.reserveCapacity(page.count)
        var pageTokens = FaceTokenSet(minimumCapacity: page.count)
        var seenBefore = 0
        var handedOnBefore = 0
        page.withText { text in
            for index in page.spans.indices {
                let token = page.spans[index].faceToken.bytes(in: text)
                let hash = hashes[index]
                guard pageTokens.insert(token, hash: hash) else {
                    self.duplicates += 1  // twice in one page
                    continue
                }
                if self.previousPageTokens.contains(token, hash: hash) {
                    seenBefore += 1
                } else if self.rewalking, self.handedOn?.contains(token, hash: hash) == true {
                    handedOnBefore += 1  // the first pass handed it on
                } else {
                    fresh.append(index)
                    self.handedOn?.insert(token, hash: hash)
                }
            }
        }
        // The positions before `next` were asked for again on purpose; more old faces than that are repeats.
        self.duplicates += max(0, seenBefore - max(0, self.next - start))
        self.previousPageTokens = pageTokens
        self.exported += fresh.count
        self.passSeen += fresh.count + handedOnBefore
        if self.handedOn.map({ $0.count > Self.rewalkPages * self.pageSize }) == true { self.handedOn = nil }

        let computedNext = start + page.count
        // A server's `next` is used only if it moves forward; anything else would loop or skip.
        self.next = max(self.next, page.next.flatMap { $0 > start ? $0 : nil } ?? computedNext)
        let emitted = page.selecting(fresh)
        if fresh.isEmpty && handedOnBefore == 0 || self.next - 1 >= expected {
            // A page of faces already seen is the end as surely as an empty one.
            return self.walkEnded(expected: expected, emitting: emitted)
        }
        let request = self.overlappingStart
        self.state = .walking(expected: expected, start: request)
        return fresh.isEmpty ? .fetchPage(start: request) : .emitAndFetch(emitted, start: request)
    }

    /// Where the next page is asked from: one position before the first face not yet seen.
    private var overlappingStart: Int { max(1, self.next - 1) }

    private var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// The size `get_size` announced (or the journal kept), while the walk asks for pages.
    var expected: Int? {
        if case .walking(let expected, _) = self.state, expected != Self.unknownSize { return expected }
        return nil
    }

    /// The result of a walk that reached its end: complete unless it lost its overlap, or the
    /// library moved under ``ChangedLibraryPolicy/fail``.
    private func result(expected: Int?) -> GroupWalkResult {
        var result = GroupWalkResult(
            status: self.lostTrack || self.moved && self.onChanged == .fail ? .changedDuringExport : .complete,
            expected: expected,
            exported: self.exported,
            pages: self.pages,
            duplicatesDropped: self.duplicates
        )
        result.changedDuringExport = self.moved
        return result
    }
}

/// What a library that changed during its walk means for the run.
public enum ChangedLibraryPolicy: String, Sendable, CaseIterable {
    /// It is complete when the walk kept the export's guarantee (every face present throughout
    /// exported exactly once), flagged `changed_during_export`.
    case accept
    /// It is `changed_during_export`, not complete: the run is partial.
    case fail
}
