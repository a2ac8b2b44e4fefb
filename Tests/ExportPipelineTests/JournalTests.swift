import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

@testable import ExportPipeline
@testable import ExportSinks

/// The journal's own guarantees, line by line.
struct JournalChecksumTests {
    static func journal(_ lines: [JournalEntry]) -> [UInt8] {
        var chain: UInt32 = 0
        var bytes: [UInt8] = []
        for line in lines {
            var encoded = RunJournal.encode(line)
            chain = RunJournal.seal(&encoded, chain: chain)
            bytes += encoded
        }
        return bytes
    }

    static let lines =
        [JournalEntry.run(.init(runID: "r1", date: "2026-12-06", fingerprint: "f"))]
        + (1...5).map { (index: Int) in
            JournalEntry.page(.init(account: "a", groupID: "g\(index)", written: index))
        }

    @Test func everySoundLineIsTrustedAndATornLastLineIsTheNormalEnd() {
        let bytes = Self.journal(Self.lines)
        let whole = RunJournal.read(bytes)
        #expect(whole.lines.count == 6)
        #expect(whole.damage == nil)
        #expect(whole.trustedLength == bytes.count)
        let torn = RunJournal.read(Array(bytes.dropLast(7)))
        #expect(torn.lines.count == 5)
        #expect(torn.damage == nil, "a torn last line is how an interrupted journal ends")
    }

    @Test func aFlippedByteAMissingLineOrTwoLinesSwappedStopTheTrustedPrefix() {
        let bytes = Self.journal(Self.lines)
        let ends = bytes.indices.filter { bytes[$0] == 0x0A }
        var flipped = bytes
        flipped[ends[2] + 20] ^= 0x01
        var missing = bytes
        missing.removeSubrange(ends[2] + 1...ends[3])
        let swapped =
            Array(bytes[...ends[2]]) + Array(bytes[(ends[3] + 1)...ends[4]]) + Array(bytes[(ends[2] + 1)...ends[3]])
            + Array(bytes[(ends[4] + 1)...])
        for damaged in [flipped, missing, swapped] {
            let contents = RunJournal.read(damaged)
            #expect(contents.lines.count == 3)
            #expect(contents.trustedLength == ends[2] + 1)
            #expect(contents.damage?.offset == ends[2] + 1)
        }
        #expect(RunJournal.read(missing).damage?.reason == "its checksum does not match")
    }

    @Test func aJournalOfAnEarlierVersionIsReadAsWrittenAndALineWithoutAChecksumAfterSealedOnesIsNot() throws {
        let legacy = Self.lines.map { String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) + "\n" }
        let old = RunJournal.read(Array(legacy.joined().utf8))
        #expect(old.lines.count == 6)
        #expect(old.damage == nil)
        let mixed = Self.journal(Array(Self.lines.prefix(3))) + Array(legacy[3].utf8)
        let contents = RunJournal.read(mixed)
        #expect(contents.lines.count == 3)
        #expect(contents.damage?.reason == "it has no checksum")
    }

    @Test func aResumedRunAppendsAfterTheTrustedPrefixAndTheChainGoesOn() throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/p.journal"
        var bytes = Self.journal(Self.lines)
        let ends = bytes.indices.filter { bytes[$0] == 0x0A }
        bytes[ends[3] + 10] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let state = try #require(ResumeState.read(path: path, outputs: 0))
        #expect(state.damage?.contains("is damaged at byte \(ends[3] + 1)") == true)
        #expect(state.groups["a"]?.keys.sorted() == ["g1", "g2", "g3"])

        let journal = try RunJournal(
            path: path,
            runID: state.runID,
            date: state.date,
            startedAt: 0,
            fingerprint: state.fingerprint,
            continuing: state
        )
        try journal.append(.page(.init(account: "a", groupID: "g9", written: 9)))
        let after = try #require(RunJournal.read(path: path))
        #expect(after.damage == nil, "the damaged tail was cut off before appending")
        #expect(after.lines.compactMap(\.progress?.groupID) == ["g1", "g2", "g3", "g9"])
    }
}

/// The check before the commit, on its own.
struct CommitCheckTests {
    static func file(_ path: String, rows: Int, account: String? = nil, group: String? = nil) -> PreparedFile {
        PreparedFile(
            temporaryPath: path + ".tmp",
            summary: SinkSummary(path: path, format: "ndjson", rows: rows, bytes: 0, sha256: ""),
            partition: .init(account: account, group: group)
        )
    }

    static let check = CommitCheck(libraries: [
        .init(account: "a", groupID: "g1", rows: 3),
        .init(account: "a", groupID: "g2", rows: 0),
        .init(account: "b", groupID: "g1", rows: 5),
    ])

    @Test func filesThatHoldWhatTheWalkHandedThemPass() {
        #expect(
            Self.check.disagreement(outputs: [
                [Self.file("out/all.ndjson", rows: 8)],
                [
                    Self.file("out/a/g1.csv", rows: 3, account: "a", group: "g1"),
                    Self.file("out/b/g1.csv", rows: 5, account: "b", group: "g1"),
                ],
                [Self.file("out/a.csv", rows: 3, account: "a"), Self.file("out/b.csv", rows: 5, account: "b")],
            ]) == nil
        )
    }

    @Test func anInjectedMiscountIsCaughtAndNamed() {
        let extra = Self.check.disagreement(outputs: [[Self.file("out/all.ndjson", rows: 9)]])
        #expect(extra?.hasPrefix("the output out/all.ndjson holds 9 rows but the walk handed it 8 (1 more)") == true)
        let perLibrary = Self.check.disagreement(outputs: [
            [
                Self.file("out/a/g1.csv", rows: 2, account: "a", group: "g1"),
                Self.file("out/b/g1.csv", rows: 5, account: "b", group: "g1"),
            ]
        ])
        #expect(perLibrary?.contains("out/a/g1.csv holds 2 rows but the walk handed it 3 (1 fewer)") == true)
        // A library's file missing altogether: every file agrees, the output as a whole does not.
        let missing = Self.check.disagreement(outputs: [[Self.file("out/b/g1.csv", rows: 5, account: "b", group: "g1")]]
        )
        #expect(missing?.contains("holds 5 rows but the walk handed it 8 (3 fewer)") == true)
        // A changes file is not the export's faces: it is not counted.
        var changes = Self.file("out/changes.ndjson", rows: 1)
        changes.partition = nil
        #expect(Self.check.disagreement(outputs: [[Self.file("out/all.ndjson", rows: 8), changes]]) == nil)
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
        for sink in sinks {
            try sink.write(StandardRecord.hardRecords(), from: RecordSource(account: "a", groupID: "g0"))
        }
        let prepared = try sinks.flatMap { try $0.prepareCommit(CommitContext.sample(runID: "r9")) }
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
        #expect(try readNDJSON(folder + "/a.ndjson").count == StandardRecord.hardRecords().count)
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
                lastRowID: index % 3 == 0 ? nil : index * 1000,
                pending: index % 2 == 0 ? true : nil,
                parquetRowGroups: index % 3 == 1 ? [text, "", "01ff"] : nil,
                object: index % 4 == 1 ? "s3://nightly/" + text : nil,
                upload: index % 4 == 1 ? text + "+/=" : nil
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

/// Where an interrupted run continues when a Parquet file vouches for its rows only a row group
/// at a time: each library and each file from a place that agrees with the others.
struct JournalCutTests {
    static func file(
        _ rows: Int,
        group: String? = nil,
        pending: Bool = false,
        rowGroups: [String]? = nil,
        finished: Bool = false
    ) -> FileCheckpoint {
        FileCheckpoint(
            group: group,
            bytes: rows * 10,
            rows: rows,
            finished: finished,
            pending: pending ? true : nil,
            parquetRowGroups: rowGroups
        )
    }

    static func line(_ library: String, written: Int, _ files: [FileCheckpoint?], end: Bool = false) -> JournalEntry {
        let progress = JournalEntry.LibraryProgress(account: "a", groupID: library, written: written, files: files)
        return end ? .end(progress) : .page(progress)
    }

    /// Writes `lines` after a `run` line as a journal and reads it back.
    static func resume(_ lines: [JournalEntry], outputs: Int) throws -> ResumeState {
        let path = try makeTemporaryDirectory() + "/cut.journal"
        let run = JournalEntry.run(.init(runID: "r1", date: "2026-12-06", fingerprint: "f"))
        try Data(JournalChecksumTests.journal([run] + lines)).write(to: URL(fileURLWithPath: path))
        return try #require(ResumeState.read(path: path, outputs: outputs))
    }

    static func written(_ state: ResumeState) -> [String: Int] {
        (state.groups["a"] ?? [:]).mapValues(\.written)
    }

    static func rows(_ state: ResumeState, output: Int) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: state.files[output].map { ($0.group ?? "", $0.rows) })
    }

    /// One NDJSON and one Parquet file for the night: the libraries go back to the Parquet file's
    /// last row group, and the NDJSON file with them; the row groups add up.
    @Test func sharedFilesGoBackToTheLastRowGroupOfTheParquetFile() throws {
        let lines = [
            Self.line("g1", written: 10, [Self.file(10), Self.file(10, rowGroups: ["r1"])]),
            Self.line("g2", written: 10, [Self.file(20), Self.file(20, pending: true)]),
            Self.line("g1", written: 20, [Self.file(30), Self.file(30, rowGroups: ["r2"])]),
            Self.line("g2", written: 20, [Self.file(40), Self.file(40, pending: true)]),
            Self.line("g1", written: 30, [Self.file(50), Self.file(50, pending: true)]),
        ]
        let state = try Self.resume(lines, outputs: 2)
        #expect(Self.written(state) == ["g1": 20, "g2": 10])
        #expect(Self.rows(state, output: 0) == ["": 30])
        #expect(Self.rows(state, output: 1) == ["": 30])
        #expect(state.files[1].first?.parquetRowGroups == ["r1", "r2"])
        #expect(state.files[1].first?.isExact == true)

        // The journal the resumed run continues says the same, read again.
        let again = try Self.resume(Array(state.journalLines.dropFirst()), outputs: 2)
        #expect(Self.written(again) == Self.written(state))
        #expect(Self.rows(again, output: 0) == ["": 30])
        #expect(again.files[1].first?.parquetRowGroups == ["r1", "r2"])
    }

    /// A file per library: a library whose Parquet file is still filling starts again, one whose
    /// file ended keeps everything; nothing is shared, so neither holds the other back.
    @Test func filesPerLibraryLetEachLibraryKeepWhatItsOwnFilesVouchFor() throws {
        let lines = [
            Self.line("g1", written: 10, [Self.file(10, group: "g1"), Self.file(10, group: "g1", pending: true)]),
            Self.line("g2", written: 10, [Self.file(10, group: "g2"), Self.file(10, group: "g2", pending: true)]),
            Self.line(
                "g2",
                written: 15,
                [Self.file(15, group: "g2"), Self.file(15, group: "g2", rowGroups: ["x"], finished: true)],
                end: true
            ),
            Self.line("g1", written: 20, [Self.file(20, group: "g1"), Self.file(20, group: "g1", pending: true)]),
        ]
        let state = try Self.resume(lines, outputs: 2)
        #expect(Self.written(state) == ["g2": 15])
        #expect(Self.rows(state, output: 0) == ["g2": 15], "g1's text file starts again with it")
        #expect(Self.rows(state, output: 1) == ["g2": 15])
        #expect(state.files[1].first?.finished == true)
        if case .end = try #require(state.journalLines.last) {} else { Issue.record("g2's line is an end line") }
    }

    /// A file shared by libraries whose own Parquet files are still filling holds them all back: the
    /// shared file cannot lose one library's rows and keep another's written after them.
    @Test func aSharedFileGoesBackBeforeTheFirstRowsItCannotKeep() throws {
        let lines = [
            Self.line("g1", written: 10, [Self.file(10), Self.file(10, group: "g1", pending: true)]),
            Self.line("g2", written: 10, [Self.file(20), Self.file(10, group: "g2", pending: true)]),
            Self.line("g2", written: 15, [Self.file(25), Self.file(15, group: "g2", finished: true)], end: true),
            Self.line("g1", written: 20, [Self.file(35), Self.file(20, group: "g1", pending: true)]),
        ]
        let state = try Self.resume(lines, outputs: 2)
        #expect(Self.written(state).isEmpty)
        #expect(state.files.allSatisfy { $0.isEmpty })
        #expect(state.journalLines.count == 1, "only the run line")
    }

    /// Journals of earlier versions have no pending checkpoints: every line is kept, as before.
    @Test func withoutPendingCheckpointsEveryLineIsKept() throws {
        let lines = (1...4).map { Self.line("g\($0 % 2)", written: $0, [Self.file($0 * 10)]) }
        let state = try Self.resume(lines, outputs: 1)
        #expect(Self.written(state) == ["g0": 4, "g1": 3])
        #expect(Self.rows(state, output: 0) == ["": 40])
    }
}
