import ExportPipeline
import FaceSearch
import Testing

struct GroupWalkStateMachineTests {
    private func faces(_ range: Range<Int>) -> [Face] {
        range.map { Face(faceToken: "t\($0)", userID: "u", userData: "d", addTime: Int64($0)) }
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

    @Test func walksFromOneStopsAtTheAnnouncedSizeAndConfirmsIt() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        #expect(machine.start() == .fetchSize)
        #expect(machine.sizeReceived(250) == .fetchPage(start: 1))
        #expect(machine.pageReceived(self.page(0..<100)) == .emitAndFetch(self.faces(0..<100), start: 101))
        #expect(machine.pageReceived(self.page(100..<200)) == .emitAndFetch(self.faces(100..<200), start: 201))
        #expect(machine.pageReceived(self.page(200..<250)) == .emitAndConfirmSize(self.faces(200..<250)))
        #expect(machine.position?.nextStart == 251, "a resumed walk would not fetch the last page again")
        #expect(
            machine.confirmedSizeReceived(250)
                == .finish(self.result(.complete, expected: 250, after: 250, exported: 250, pages: 3))
        )
    }

    @Test func aShortPageIsNotTheEndButAnEmptyPageIs() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(150)
        // The server answered 60 of the 100 asked for: the next start follows what was received.
        #expect(machine.pageReceived(self.page(0..<60)) == .emitAndFetch(self.faces(0..<60), start: 61))
        #expect(machine.pageReceived(self.page(60..<120)) == .emitAndFetch(self.faces(60..<120), start: 121))
        #expect(machine.pageReceived(self.page(0..<0)) == .confirmSize)
        // The size held, but 30 faces never came: something moved under the walk.
        #expect(
            machine.confirmedSizeReceived(150)
                == .finish(self.result(.changedDuringExport, expected: 150, after: 150, exported: 120, pages: 2))
        )
    }

    @Test func aLibraryThatGrewDuringTheWalkIsNotComplete() {
        var machine = GroupWalkStateMachine(pageSize: 100)
        _ = machine.start()
        _ = machine.sizeReceived(100)
        #expect(machine.pageReceived(self.page(0..<100)) == .emitAndConfirmSize(self.faces(0..<100)))
        #expect(
            machine.confirmedSizeReceived(104)
                == .finish(self.result(.changedDuringExport, expected: 100, after: 104, exported: 100, pages: 1))
        )
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
        #expect(machine.pageReceived(self.page(0..<10, next: 11)) == .emitAndFetch(self.faces(0..<10), start: 11))
        // A `next` pointing backwards would loop forever; the computed start wins.
        #expect(machine.pageReceived(self.page(10..<20, next: 3)) == .emitAndFetch(self.faces(10..<20), start: 21))
    }

    @Test func facesRepeatedAcrossAPageBoundaryAreDroppedAndCounted() {
        var machine = GroupWalkStateMachine(pageSize: 10)
        _ = machine.start()
        _ = machine.sizeReceived(20)
        _ = machine.pageReceived(self.page(0..<10))
        // An insertion shifted the offsets by one: face 9 comes again. The walk has passed the
        // announced size; 19 distinct faces against 20 announced do not reconcile.
        #expect(machine.pageReceived(self.page(9..<19)) == .emitAndConfirmSize(self.faces(10..<19)))
        #expect(
            machine.confirmedSizeReceived(20)
                == .finish(
                    self.result(.changedDuringExport, expected: 20, after: 20, exported: 19, pages: 2, duplicates: 1)
                )
        )
    }

    @Test func aStrictStartCapIsMetWithOnePageFromTheCapThenIncomplete() {
        var machine = GroupWalkStateMachine(pageSize: 1000)
        _ = machine.start()
        _ = machine.sizeReceived(2500)
        _ = machine.pageReceived(self.page(0..<1000))
        let refused = FaceSearchError.api(status: 400, error: "BAD_ARGUMENTS: start", requestID: nil, call: "list")
        // start=1001 refused: one more page from the cap, 1000, reaches position 1999.
        #expect(machine.callFailed(refused) == .fetchPage(start: 1000))
        #expect(machine.pageReceived(self.page(999..<1999)) == .emitAndFetch(self.faces(1000..<1999), start: 2000))
        let action = machine.callFailed(refused)
        guard case .finish(let result) = action else {
            Issue.record("expected finish, got \(action)")
            return
        }
        #expect(result.status == .incomplete)
        #expect(result.exported == 1999)
        #expect(result.duplicatesDropped == 1)
        #expect(result.unreachable == 501)
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
