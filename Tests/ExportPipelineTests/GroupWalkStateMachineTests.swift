import ExportPipeline
import FaceSearch
import Testing

struct GroupWalkStateMachineTests {
    private func faces(_ range: Range<Int>) -> [Face] {
        range.map { Face(faceToken: "t\($0)", userID: "u", userData: "d", addTime: Int64($0)) }
    }

    /// The faces a walk hands on, as the page it emits.
    private func emitted(_ range: Range<Int>) -> FacePage {
        FacePage(faces: self.faces(range))
    }

    private func page(_ range: Range<Int>, next: Int? = nil) -> FacePage {
        FacePage(faces: self.faces(range), next: next, requestID: nil)
    }

    private func result(
        _ status: GroupStatus,
        expected: Int,
        after: Int?,
        exported: Int,
        pages: Int,
        duplicates: Int = 0
    ) -> GroupWalkResult {
        var result = GroupWalkResult(
            status: status,
            expected: expected,
            exported: exported,
            pages: pages,
            duplicatesDropped: duplicates
        )
        result.expectedAfter = after
        return result
    }

    @Test func walksFromOneWithAnOverlapStopsAtTheAnnouncedSizeAndConfirmsIt() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        #expect(machine.start() == .fetchSize)
        #expect(machine.sizeReceived(250) == .fetchPage(start: 1))
        // Every later page is asked from one position back, so it begins with the last face seen.
        #expect(machine.pageReceived(self.page(0..<100)) == .emitAndFetch(self.emitted(0..<100), start: 100))
        #expect(machine.pageReceived(self.page(99..<199)) == .emitAndFetch(self.emitted(100..<199), start: 199))
        #expect(machine.pageReceived(self.page(198..<250)) == .emitAndConfirmSize(self.emitted(199..<250)))
        #expect(machine.position?.nextStart == 251, "a resumed walk would not fetch the last page again")
        #expect(
            machine.confirmedSizeReceived(250)
                == .finish(self.result(.complete, expected: 250, after: 250, exported: 250, pages: 3))
        )
    }

    /// Tokens are compared by their bytes: tokens of every length, differing only in their last bytes
    /// and repeated across the overlap, are each handed on once, and the journal's position keeps the
    /// last page's tokens exactly.
    @Test(arguments: [1, 31, 32, 33, 40, 41, 64, 200])
    func tokensOfAnyLengthAreTellingApartByEveryByte(length: Int) {
        let tokens = (0..<250).map { number in
            let tail = "é\(number)"
            return String(repeating: "x", count: max(0, length - tail.utf8.count)) + tail
        }
        func page(_ range: Range<Int>) -> FacePage {
            FacePage(faces: range.map { Face(faceToken: tokens[$0], userID: "", userData: "", addTime: Int64($0)) })
        }
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(250)
        var handedOn: [String] = []
        if case .emitAndFetch(let faces, let start) = machine.pageReceived(page(0..<100)) {
            handedOn += faces.faces.map(\.faceToken)
            #expect(start == 100)
        }
        #expect(Set(machine.position?.lastPageTokens ?? []) == Set(tokens[0..<100]))
        // Each later page begins with the last face of the one before: dropped by its bytes.
        if case .emitAndFetch(let faces, _) = machine.pageReceived(page(99..<199)) {
            handedOn += faces.faces.map(\.faceToken)
        }
        if case .emitAndConfirmSize(let faces) = machine.pageReceived(page(198..<250)) {
            handedOn += faces.faces.map(\.faceToken)
        }
        #expect(handedOn == tokens)
    }

    /// Tokens are opaque bytes: two that Swift's `String` calls equal (canonically equivalent, "é"
    /// precomposed and decomposed) are two faces, as they are to the API and to SQLite's key.
    @Test func canonicallyEquivalentTokensAreTwoFaces() {
        let faces = [
            Face(faceToken: "caf\u{E9}", userID: "", userData: "", addTime: 1),
            Face(faceToken: "cafe\u{301}", userID: "", userData: "", addTime: 2),
        ]
        #expect(faces[0].faceToken == faces[1].faceToken, "Swift's String equality, which the walk used to rely on")
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(2)
        guard case .emitAndConfirmSize(let emitted) = machine.pageReceived(FacePage(faces: faces)) else {
            Issue.record("the page of two faces was not handed on")
            return
        }
        #expect(emitted.faces.map { Array($0.faceToken.utf8) } == faces.map { Array($0.faceToken.utf8) })
        #expect(
            machine.confirmedSizeReceived(2)
                == .finish(self.result(.complete, expected: 2, after: 2, exported: 2, pages: 1))
        )
    }

    @Test func aShortPageIsNotTheEndButAnEmptyPageIs() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(150)
        // The server answered 60 of the 100 asked for: the next start follows what was received.
        #expect(machine.pageReceived(self.page(0..<60)) == .emitAndFetch(self.emitted(0..<60), start: 60))
        #expect(machine.pageReceived(self.page(59..<120)) == .emitAndFetch(self.emitted(60..<120), start: 120))
        #expect(machine.pageReceived(self.page(0..<0)) == .confirmSize)
        // The size held, but 30 faces never came: something moved under the walk. The library is
        // small, so it is walked once more; the second pass hands on nothing already handed on.
        #expect(machine.confirmedSizeReceived(150) == .fetchPage(start: 1))
        #expect(machine.pageReceived(self.page(0..<100)) == .fetchPage(start: 100))
        #expect(machine.pageReceived(self.page(99..<120)) == .fetchPage(start: 120))
        #expect(machine.pageReceived(self.page(119..<120)) == .confirmSize)
        var expected = self.result(.complete, expected: 150, after: 150, exported: 120, pages: 5)
        expected.changedDuringExport = true
        #expect(machine.confirmedSizeReceived(150) == .finish(expected))
    }

    @Test func aSmallLibraryThatGrewDuringTheWalkIsWalkedAgainAndGetsTheNewFaces() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(100)
        #expect(machine.pageReceived(self.page(0..<100)) == .emitAndConfirmSize(self.emitted(0..<100)))
        #expect(machine.confirmedSizeReceived(104) == .fetchPage(start: 1))
        #expect(machine.pageReceived(self.page(0..<100)) == .fetchPage(start: 100))
        #expect(machine.pageReceived(self.page(99..<104)) == .emitAndConfirmSize(self.emitted(100..<104)))
        var expected = self.result(.complete, expected: 100, after: 104, exported: 104, pages: 3)
        expected.changedDuringExport = true
        #expect(machine.confirmedSizeReceived(104) == .finish(expected))
    }

    @Test func aLargeLibraryThatGrewIsCompleteAndFlaggedWithoutASecondPass() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        _ = machine.start()
        _ = machine.sizeReceived(40)
        _ = machine.pageReceived(self.page(0..<10))
        _ = machine.pageReceived(self.page(9..<19))
        _ = machine.pageReceived(self.page(18..<28))
        #expect(machine.pageReceived(self.page(27..<37)) == .emitAndFetch(self.emitted(28..<37), start: 37))
        #expect(machine.pageReceived(self.page(36..<46)) == .emitAndConfirmSize(self.emitted(37..<46)))
        var expected = self.result(.complete, expected: 40, after: 47, exported: 46, pages: 5)
        expected.changedDuringExport = true
        #expect(machine.confirmedSizeReceived(47) == .finish(expected))
    }

    @Test func onChangedFailKeepsAnEditedLibraryFromBeingComplete() {
        var machine = GroupWalkStateMachine(pageSize: 100, onChanged: .fail)
        _ = machine.start()
        _ = machine.sizeReceived(100)
        #expect(machine.pageReceived(self.page(0..<100)) == .emitAndConfirmSize(self.emitted(0..<100)))
        var expected = self.result(.changedDuringExport, expected: 100, after: 104, exported: 100, pages: 1)
        expected.changedDuringExport = true
        #expect(machine.confirmedSizeReceived(104) == .finish(expected))
    }

    /// Walks `library` to its end, applying `edit` to it before the call numbered `editBefore`.
    private func walk(
        _ machine: inout GroupWalkStateMachine,
        library initial: [Face],
        pageSize: Int,
        editBefore: Int,
        edit: (inout [Face]) -> Void
    ) -> (result: GroupWalkResult?, handedOn: [String]) {
        var library = initial
        var handedOn: [String] = []
        var action = machine.start()
        for call in 0..<1000 {
            if call == editBefore { edit(&library) }
            switch action {
            case .fetchSize: action = machine.sizeReceived(library.count)
            case .confirmSize: action = machine.confirmedSizeReceived(library.count)
            case .emitAndConfirmSize(let faces):
                handedOn += faces.faces.map(\.faceToken)
                action = machine.confirmedSizeReceived(library.count)
            case .fetchPage(let start), .emitAndFetch(_, let start):
                if case .emitAndFetch(let faces, _) = action { handedOn += faces.faces.map(\.faceToken) }
                let slice = Array(library.dropFirst(start - 1).prefix(pageSize))
                action = machine.pageReceived(FacePage(faces: slice, next: nil, requestID: nil))
            case .finish(let result): return (result, handedOn)
            case .emitAndFinish(let faces, let result): return (result, handedOn + faces.faces.map(\.faceToken))
            }
        }
        return (nil, handedOn)
    }

    @Test func moreThanAPageDeletedBetweenTwoCallsIsNotPassedOffAsComplete() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        let library = self.faces(0..<100)
        // After three pages, 15 faces before the offset go: the walk cannot find the last page again.
        let (result, handedOn) = self.walk(&machine, library: library, pageSize: 10, editBefore: 4) {
            $0.removeFirst(15)
        }
        #expect(result?.status == .changedDuringExport)
        #expect(result?.changedDuringExport == true)
        #expect(Set(handedOn).count == handedOn.count, "nothing handed on twice")
    }

    @Test func deletionsOfLessThanAPageKeepTheGuaranteeAndTheLibraryIsComplete() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        let library = self.faces(0..<100)
        let (result, handedOn) = self.walk(&machine, library: library, pageSize: 10, editBefore: 4) {
            $0.removeSubrange(20..<24)
        }
        #expect(result?.status == .complete)
        #expect(result?.changedDuringExport == true)
        let stayed = Set(library.map(\.faceToken)).subtracting((20..<24).map { "t\($0)" })
        #expect(stayed.isSubset(of: Set(handedOn)), "every face present throughout is there")
        #expect(Set(handedOn).count == handedOn.count, "nothing handed on twice")
    }

    @Test func anUnconfirmedSizeJudgesTheWalkByTheFirstOne() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(100)
        _ = machine.pageReceived(self.page(0..<100))
        let action = machine.callFailed(.timeout(call: "get_size"))
        guard case .finish(let result) = action else {
            Issue.record("expected finish, got \(action)")
            return
        }
        #expect(result.status == .complete)
        #expect(result.expectedAfter == nil)
        #expect(result.error?.contains("could not be confirmed") == true)
    }

    @Test func emptyLibraryIsCompleteAfterOneEmptyPage() {
        var machine = GroupWalkStateMachine(pageSize: 1000)
        _ = machine.start()
        #expect(machine.sizeReceived(0) == .fetchPage(start: 1))
        #expect(machine.pageReceived(self.page(0..<0)) == .confirmSize)
        #expect(
            machine.confirmedSizeReceived(0)
                == .finish(self.result(.complete, expected: 0, after: 0, exported: 0, pages: 0))
        )
    }

    @Test func serverNextIsUsedOnlyWhenItMovesForward() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        _ = machine.start()
        _ = machine.sizeReceived(40)
        #expect(machine.pageReceived(self.page(0..<10, next: 11)) == .emitAndFetch(self.emitted(0..<10), start: 10))
        // A `next` pointing backwards would loop forever; the computed position wins.
        #expect(machine.pageReceived(self.page(9..<19, next: 3)) == .emitAndFetch(self.emitted(10..<19), start: 19))
    }

    @Test func deletionsBeforeTheOffsetAreFoundByStepsBackAndNoFaceIsSkipped() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        _ = machine.start()
        _ = machine.sizeReceived(30)
        #expect(machine.pageReceived(self.page(0..<10)) == .emitAndFetch(self.emitted(0..<10), start: 10))
        // Faces 3 and 4 were deleted: position 10 now holds face 11, face 10 slid to position 9.
        #expect(machine.pageReceived(self.page(11..<21)) == .fetchPage(start: 9))
        #expect(machine.pageReceived(self.page(10..<20)) == .fetchPage(start: 7))
        // From position 7 the page begins with faces 8 and 9, seen already: face 10 is not skipped.
        #expect(machine.pageReceived(self.page(8..<18)) == .emitAndFetch(self.emitted(10..<18), start: 16))
        #expect(machine.position?.duplicatesDropped == 0)
    }

    @Test func facesRepeatedInAPageAreDroppedAndCounted() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        _ = machine.start()
        _ = machine.sizeReceived(20)
        _ = machine.pageReceived(self.page(0..<10))
        let repeated = FacePage(faces: self.faces(9..<12) + self.faces(11..<12) + self.faces(12..<18))
        #expect(machine.pageReceived(repeated) == .emitAndFetch(self.emitted(10..<18), start: 19))
        #expect(machine.position?.duplicatesDropped == 1)
    }

    @Test func aStrictStartCapMakesTheRestIncompleteWithTheUnreachableCount() {
        var machine = GroupWalkStateMachine(pageSize: 1000)
        _ = machine.start()
        _ = machine.sizeReceived(2500)
        // The overlap asks for start=1000, which a strict server still allows: positions up to 1999.
        #expect(machine.pageReceived(self.page(0..<1000)) == .emitAndFetch(self.emitted(0..<1000), start: 1000))
        #expect(machine.pageReceived(self.page(999..<1999)) == .emitAndFetch(self.emitted(1000..<1999), start: 1999))
        let refused = FaceSearchError.api(status: 400, error: "BAD_ARGUMENTS: start", requestID: nil, call: "list")
        let action = machine.callFailed(refused)
        guard case .finish(let result) = action else {
            Issue.record("expected finish, got \(action)")
            return
        }
        #expect(result.status == .incomplete)
        #expect(result.exported == 1999)
        #expect(result.unreachable == 501)
    }

    @Test func withSmallPagesAStrictCapGetsOneMorePageFromTheCap() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(1200)
        let refused = FaceSearchError.api(status: 400, error: "BAD_ARGUMENTS: start", requestID: nil, call: "list")
        var requests = [1]
        var action = machine.pageReceived(self.page(0..<100))
        var outcome: GroupWalkResult?
        walk: while true {
            switch action {
            case .emitAndFetch(_, let start), .fetchPage(let start):
                requests.append(start)
                // A strict server: position p holds face p - 1 up to start 1000, and refuses beyond.
                action =
                    start > 1000
                    ? machine.callFailed(refused) : machine.pageReceived(self.page((start - 1)..<min(start + 99, 1200)))
            case .finish(let result):
                outcome = result
                break walk
            default:
                Issue.record("unexpected \(action)")
                break walk
            }
        }
        #expect(requests.suffix(3) == [1090, 1000, 1099], "refused at 1090, one more page from the cap, refused again")
        #expect(outcome?.status == .incomplete)
        #expect(outcome?.exported == 1099)
        #expect(outcome?.unreachable == 101)
    }

    @Test func failureBeforeAnyPageFailsTheLibrary() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        let action = machine.callFailed(
            .api(status: 400, error: "INVALID_GROUP_ID", requestID: "1,x", call: "get_size")
        )
        guard case .finish(let result) = action else {
            Issue.record("expected finish, got \(action)")
            return
        }
        #expect(result.status == .failed)
        #expect(result.expected == nil)
        #expect(result.error?.contains("INVALID_GROUP_ID") == true)
    }
}
