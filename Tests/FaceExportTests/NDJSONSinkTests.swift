import ExportSinks
import FaceSearchSimulator
import Foundation
import Testing

struct NDJSONSinkTests {
    private func records() -> [ExportRecord] {
        DatasetGenerator.hardStrings.enumerated().map { index, text in
            ExportRecord(
                groupID: "g\(index % 3)",
                faceToken: "token-\(index)",
                userID: text,
                userData: text + "|" + text,
                addTime: Int64(index) * 1000,
                addTimeUTC: "1970-01-01T00:00:0\(index % 10).000Z"
            )
        }
    }

    @Test(arguments: ["faces.ndjson", "faces.ndjson.gz"])
    func hardStringsRoundTripByteForByte(name: String) throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/nested/" + name
        let sink = try NDJSONSink(configuration: .init(path: path), runID: "r1")
        let records = self.records()
        try sink.write(Array(records.prefix(10)))
        try sink.write(Array(records.dropFirst(10)))
        let summary = try sink.commit()
        #expect(summary.rows == records.count)
        #expect(summary.bytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        if name.hasSuffix(".gz") { _ = try runProgram("/bin/gzip", ["-t", path]) }
        let rows = try readNDJSON(path)
        #expect(rows.count == records.count)
        for (row, record) in zip(rows, records) {
            #expect(row.userID == Array(record.userID.utf8))
            #expect(row.userData == Array(record.userData.utf8))
            #expect(row.faceToken == record.faceToken)
            #expect(row.addTime == record.addTime)
        }
    }

    @Test func outputIsPrivateAndAppearsOnlyOnCommit() throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.ndjson"
        let sink = try NDJSONSink(configuration: .init(path: path), runID: "r2")
        try sink.write(self.records())
        #expect(!FileManager.default.fileExists(atPath: path))
        _ = try sink.commit()
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.ndjson"])
    }

    @Test func discardLeavesThePreviousOutputExactlyAsItWas() throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.ndjson.gz"
        let first = try NDJSONSink(configuration: .init(path: path), runID: "r3")
        try first.write(Array(self.records().prefix(3)))
        _ = try first.commit()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let second = try NDJSONSink(configuration: .init(path: path), runID: "r4")
        try second.write(self.records())
        second.discard()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.ndjson.gz"])
    }
}
