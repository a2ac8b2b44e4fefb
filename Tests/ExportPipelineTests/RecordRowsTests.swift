import ExportPipeline
import ExportSinks
import FaceSearch
import Testing

/// Rows share a page's bytes instead of copying them, and only one page's.
struct RecordRowsTests {
    static let faces = (0..<5).map {
        Face(
            faceToken: "token-\($0)",
            userID: $0 == 2 ? "" : "user-\($0)",
            userData: "dätä \"\($0)\"\n",
            addTime: 1_767_225_600_000 + Int64($0)
        )
    }

    @Test func rowsBorrowOnePageAndCopyFromAnother() {
        let first = FacePage(faces: Array(Self.faces[..<3]))
        let second = FacePage(faces: Array(Self.faces[3...]))
        var rows = RecordRows(width: RecordSchema.standard.columns.count)
        let borrowedFirst = rows.borrow(first.text)
        let borrowedAgain = rows.borrow(first.text)
        let borrowedSecond = rows.borrow(second.text)
        #expect(borrowedFirst)
        #expect(borrowedAgain, "the same bytes again")
        #expect(!borrowedSecond, "another page's bytes are copied, not borrowed")

        // Two pages into one batch: the first page's fields borrowed, the second's copied.
        var batch = RecordRows(width: RecordSchema.standard.columns.count)
        let source = RecordSource(account: "a", groupID: "g")
        #expect(RecordTransform.standard.append(first, from: source, to: &batch) == 0)
        #expect(RecordTransform.standard.append(second, from: source, to: &batch) == 0)
        #expect(batch.borrowed == first.text)
        #expect(batch.count == Self.faces.count)
        for (index, face) in Self.faces.enumerated() {
            #expect(
                batch[row: index] == [
                    .text("g"), .text(face.faceToken), .text(face.userID), .text(face.userData), .integer(face.addTime),
                    .text(Timestamp.formatRFC3339UTC(milliseconds: face.addTime)),
                ]
            )
        }
        let borrowedCells = batch.cells.filter { if case .borrowed = $0 { true } else { false } }
        #expect(borrowedCells.count == 3 * 3, "token, user id and user data of the first page's faces")
    }
}
