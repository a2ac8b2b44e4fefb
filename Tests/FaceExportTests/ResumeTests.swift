import FaceSearchSimulator
import Foundation
import Testing

@testable import ExportPipeline
@testable import ExportSinks

/// Interrupted runs continue from their journal: every face exactly once, byte for byte.
@Suite(.timeLimit(.minutes(3)))
struct ResumeTests {
    static let dataset = DatasetGenerator(groups: 16, faces: 1500, sizing: .mixed, seed: 5).make()

    static func pipeline(folder: String, latency: Double) -> String {
        embeddedPipeline(
            name: "resumable",
            folder: folder,
            groups: 16,
            faces: 1500,
            seed: 5,
            latency: latency,
            outputs: [
                "{format: ndjson, path: faces.ndjson.gz}",
                #"{format: csv, path: "dt={date}/group={group}/faces.csv.gz"}"#,
                "{format: sqlite, path: faces.sqlite}",
            ]
        )
    }

    static func prepare() throws -> String {
        let folder = try makeTemporaryDirectory()
        // Slow enough that on a loaded machine a signal sent after a few libraries lands mid-run.
        try Self.pipeline(folder: folder, latency: 0.1).write(
            toFile: folder + "/slow.yaml",
            atomically: true,
            encoding: .utf8
        )
        // Faults do not change what the outputs hold: the fast pipeline may resume the slow one's run.
        try Self.pipeline(folder: folder, latency: 0).write(
            toFile: folder + "/fast.yaml",
            atomically: true,
            encoding: .utf8
        )
        return folder
    }

    /// Checks that the committed outputs hold exactly the dataset, in all three formats.
    static func verifyOutputs(_ folder: String) throws {
        let expected = Set(expectedRows(Self.dataset.groups))
        let ndjson = try readNDJSON(folder + "/out/faces.ndjson.gz")
        #expect(ndjson.count == Self.dataset.faceCount, "no face twice")
        #expect(Set(ndjson) == expected, "every face, byte-exact")
        var csvRows = 0
        let partitions = try FileManager.default.contentsOfDirectory(atPath: folder + "/out")
            .first { $0.hasPrefix("dt=") }.map { folder + "/out/" + $0 }
        for group in try FileManager.default.contentsOfDirectory(atPath: try #require(partitions))
        where group.hasPrefix("group=") {
            _ = try runProgram("/bin/gzip", ["-t", partitions! + "/" + group + "/faces.csv.gz"])
            csvRows += try OutputIntegrationTests.csvRows(partitions! + "/" + group + "/faces.csv.gz").count
        }
        #expect(csvRows == Self.dataset.faceCount)
        let sqlite = try OutputIntegrationTests.sqliteRows(
            folder + "/out/faces.sqlite",
            "SELECT count(*) AS n, count(DISTINCT face_token) AS d FROM faces"
        )
        #expect(sqlite.first?["n"] as? Int == Self.dataset.faceCount)
        #expect(sqlite.first?["d"] as? Int == Self.dataset.faceCount)
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: folder + "/out/manifest.json"))
            ) as? [String: Any]
        #expect(manifest?["outcome"] as? String == "complete")
        #expect(
            !FileManager.default.fileExists(atPath: folder + "/out/.faceexport/resumable.journal"),
            "the journal goes with the commit"
        )
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder + "/out").filter {
            $0.contains(".tmp-")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test(arguments: [1, 5])
    func sigkillThenResumeExportsEveryFaceExactlyOnce(afterLibraries: Int) async throws {
        let folder = try Self.prepare()
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml",
            libraries: afterLibraries,
            signal: SIGKILL
        )
        _ = await OperationsTests.wait(run)
        let journal = try #require(ResumeState.read(path: folder + "/out/.faceexport/resumable.journal", outputs: 3))
        #expect(!journal.runID.isEmpty, "the journal names the run to continue")
        let resumed = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("COMPLETE"))
        try Self.verifyOutputs(folder)
    }

    @Test func sigkillDuringTheCommitThenResumeFinishesIt() async throws {
        let folder = try Self.prepare()
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml",
            libraries: 1,
            marker: "committing the outputs",
            signal: SIGKILL
        )
        _ = await OperationsTests.wait(run)
        // Wherever the kill landed (preparing the files, or among the renames), a resumed run ends with
        // every output complete; if the commit had already finished, there is nothing to resume.
        let resumed = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml", "--resume"])
        #expect([0, 4].contains(resumed.status), "\(resumed.stderr)")
        if resumed.status == 4 { #expect(resumed.stderr.contains("nothing to resume")) }
        try Self.verifyOutputs(folder)
    }

    @Test func sigtermKeepsAConsistentJournalAndResumeCompletes() async throws {
        let folder = try Self.prepare()
        let run = try await OperationsTests.startSlowRun(folder + "/slow.yaml", libraries: 3, signal: SIGTERM)
        #expect(await OperationsTests.wait(run) == 143)
        let journal = try #require(ResumeState.read(path: folder + "/out/.faceexport/resumable.journal", outputs: 3))
        let finished = journal.groups.values.flatMap(\.values).filter { $0.result != nil }
        #expect(finished.count >= 3)
        #expect(finished.allSatisfy { $0.written == $0.result?.exported })
        // A second interruption of the resumed run, then a resume to the end.
        let again = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml --resume",
            libraries: 2,
            signal: SIGTERM
        )
        let status = await OperationsTests.wait(again)
        // On a loaded machine the resumed run may finish before the signal lands: then it committed.
        #expect([0, 143].contains(status))
        guard status == 143 else { return try Self.verifyOutputs(folder) }
        let resumed = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try Self.verifyOutputs(folder)
    }

    @Test func aChangedPipelineRefusesToResumeAndANewRunStartsOver() async throws {
        let folder = try Self.prepare()
        let run = try await OperationsTests.startSlowRun(folder + "/slow.yaml", libraries: 1, signal: SIGKILL)
        _ = await OperationsTests.wait(run)
        let changed = try String(contentsOfFile: folder + "/fast.yaml", encoding: .utf8)
            .replacingOccurrences(of: "path: faces.sqlite", with: "path: other.sqlite")
        try changed.write(toFile: folder + "/changed.yaml", atomically: true, encoding: .utf8)
        let refused = try await CommandLineTests.faceexport(["run", folder + "/changed.yaml", "--resume"])
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("changed since it was interrupted"))
        // So is a different transform: the files would mix two schemas.
        let transformed =
            try String(contentsOfFile: folder + "/fast.yaml", encoding: .utf8)
            + "\ntransform:\n  drop: [user_data]\n"
        try transformed.write(toFile: folder + "/transformed.yaml", atomically: true, encoding: .utf8)
        let alsoRefused = try await CommandLineTests.faceexport(["run", folder + "/transformed.yaml", "--resume"])
        #expect(alsoRefused.status == 4)
        #expect(alsoRefused.stderr.contains("changed since it was interrupted"), "\(alsoRefused.stderr)")
        let nothing = try await CommandLineTests.faceexport([
            "run", folder + "/fast.yaml", "--resume", "--out", folder + "/elsewhere",
        ])
        #expect(nothing.status == 4)
        #expect(nothing.stderr.contains("nothing to resume"))
        let fresh = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        try Self.verifyOutputs(folder)
    }
}

/// A run killed among the renames of its commit: the next run finishes the commit from the journal.
struct InterruptedCommitTests {
    /// The journal packs a page's tokens into one string; opaque tokens of any bytes come back as
    /// they were, and the array of earlier journals still reads.
    @Test func aWalkPositionComesBackFromTheJournalExactly() throws {
        let tokens = ["", "12:ab", "3:", ":", "0123456789abcdef0123456789abcdef", "张伟😀", "a\"b\\c\n"]
        let position = WalkPosition(
            expected: 9,
            nextStart: 1999,
            exported: 7,
            pages: 2,
            duplicatesDropped: 1,
            lastPageTokens: tokens
        )
        let encoded = try JSONEncoder().encode(position)
        #expect(try JSONDecoder().decode(WalkPosition.self, from: encoded) == position)
        let earlier = Data(
            #"{"expected":9,"nextStart":1999,"exported":7,"pages":2,"duplicatesDropped":1,"lastPageTokens":["a","b"]}"#
                .utf8
        )
        #expect(try JSONDecoder().decode(WalkPosition.self, from: earlier).lastPageTokens == ["a", "b"])
        let damaged = Data(String(decoding: encoded, as: UTF8.self).replacingOccurrences(of: "32:", with: "99:").utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(WalkPosition.self, from: damaged) }
    }

    @Test func aCommitCutShortIsFinishedFromTheJournal() throws {
        let folder = try makeTemporaryDirectory()
        let run = OutputPathTemplate.RunValues(date: "2026-11-26", runID: "r9", pipeline: "p")
        let sinks = [
            OutputSink(
                configuration: .init(format: .ndjson, path: try OutputPathTemplate(folder + "/a.ndjson")),
                run: run
            ),
            OutputSink(configuration: .init(format: .csv, path: try OutputPathTemplate(folder + "/b.csv")), run: run),
        ]
        for sink in sinks { try sink.write(SinkTests.records(), from: RecordSource(account: "a", groupID: "g0")) }
        let prepared = try sinks.flatMap { try $0.prepareCommit(SinkTests.context(runID: "r9")) }
        let plan = CommitPlan(
            runID: "r9",
            outcome: .complete,
            files: prepared,
            manifestPath: folder + "/manifest.json",
            manifest: "{}\n",
            successFolders: [folder]
        )
        let journal = folder + "/p.journal"
        let line =
            #"{"type":"run","run_id":"r9"}"# + "\n" + #"{"type":"commit","commit":"#
            + String(decoding: try JSONEncoder().encode(plan), as: UTF8.self) + "}\n"
        try line.write(toFile: journal, atomically: true, encoding: .utf8)
        // The crash: only the first file made it into place.
        try prepared[0].install()
        #expect(!FileManager.default.fileExists(atPath: folder + "/b.csv"))

        let finished = try CommitPlan.finishInterrupted(journalPath: journal)
        #expect(finished?.runID == "r9")
        #expect(try readNDJSON(folder + "/a.ndjson").count == SinkTests.records().count)
        #expect(try String(contentsOfFile: folder + "/b.csv", encoding: .utf8).hasPrefix("group_id,"))
        #expect(try String(contentsOfFile: folder + "/manifest.json", encoding: .utf8) == "{}\n")
        #expect(FileManager.default.fileExists(atPath: folder + "/_SUCCESS"))
        #expect(!FileManager.default.fileExists(atPath: journal))
        #expect(try CommitPlan.finishInterrupted(journalPath: journal) == nil, "nothing left to finish")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains(".tmp-") }.isEmpty)
    }
}

/// The journal's page and end lines, written without `JSONEncoder`, read back as `JSONEncoder`'s would.
struct JournalLibraryLineTests {
    @Test func theHandWrittenLibraryLinesDecodeToWhatJSONEncoderWouldHaveWritten() throws {
        let hard = DatasetGenerator.hardStrings
        var lines: [JournalEntry] = []
        for (index, text) in hard.enumerated() {
            let position = WalkPosition(
                expected: index * 1000,
                nextStart: index * 7 + 1,
                exported: index,
                pages: index / 3,
                duplicatesDropped: index % 2,
                lastPageTokens: [text, "3eef8d05d9b8169f551e8a9d300128db", "", text + "\u{0}"],
                rewalking: index % 2 == 0
            )
            let file = FileCheckpoint(
                account: index % 3 == 0 ? nil : text,
                group: index % 4 == 0 ? nil : text,
                bytes: index * 99,
                rows: index,
                finished: index % 5 == 0,
                sha256: index % 2 == 0 ? nil : String(repeating: "ab", count: 32),
                lastRowID: index % 3 == 0 ? nil : index * 1000
            )
            let statuses: [GroupStatus] = [.complete, .changedDuringExport, .incomplete, .failed]
            var result = GroupWalkResult(
                status: statuses[index % statuses.count],
                expected: index % 3 == 0 ? nil : index * 1000,
                exported: index,
                pages: index / 2,
                duplicatesDropped: index % 4,
                unreachable: index % 5 == 0 ? index : nil,
                error: index % 2 == 0 ? nil : text
            )
            result.expectedAfter = index % 4 == 1 ? nil : index * 999
            result.changedDuringExport = index % 3 == 1
            // A page line (a position), an end line (a result, maybe a position), and neither.
            let shape = index % 3
            let progress = JournalEntry.LibraryProgress(
                account: index % 6 == 0 ? "" : text,
                groupID: text,
                position: shape == 1 ? nil : position,
                result: shape == 0 ? nil : result,
                written: index % 7 == 0 ? nil : index,
                filtered: index,
                requests: index * 2,
                retries: index % 3 == 0 ? nil : index,
                files: index % 8 == 0 ? nil : [file, nil, file]
            )
            lines.append(shape == 0 ? .page(progress) : .end(progress))
        }
        let sorted = JSONEncoder()
        sorted.outputFormatting = [.sortedKeys]
        for line in lines {
            let written = try #require(RunJournal.libraryLine(line))
            let decoded = try JSONDecoder().decode(JournalEntry.self, from: Data(written))
            let reference = try JSONDecoder().decode(JournalEntry.self, from: JSONEncoder().encode(line))
            #expect(try sorted.encode(decoded) == sorted.encode(reference))
            #expect(decoded.type == line.type)
            #expect(decoded.progress?.position?.lastPageTokens == line.progress?.position?.lastPageTokens)
            #expect(decoded.progress?.result == line.progress?.result)
        }
        #expect(lines.contains { $0.progress?.result != nil && $0.progress?.position != nil })
        // Lines with a commit or the run's fields go through JSONEncoder.
        #expect(RunJournal.libraryLine(.run(.init(runID: "r", date: "d", fingerprint: "f"))) == nil)
    }
}
