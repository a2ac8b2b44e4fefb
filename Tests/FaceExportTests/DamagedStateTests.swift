import Foundation
import Testing

@testable import ExportPipeline
@testable import ExportSinks

/// A killed run whose journal or temporary file was then damaged resumes exactly, or refuses in one
/// line and loses nothing.
@Suite(.timeLimit(.minutes(3)))
struct DamagedStateTests {
    static let outputs = [
        "{format: ndjson, path: faces.ndjson.gz}",
        #"{format: csv, path: "dt={date}/group={group}/faces.csv.gz"}"#,
        "{format: sqlite, path: faces.sqlite}",
    ]

    /// Kills tonight's run in a copy of last night's folder before the `journalLine`-th line of its journal.
    static func killedRun(_ night: CrashSweepTests.Night, name: String, journalLine: Int) async throws -> String {
        let journalSteps = night.steps.enumerated().filter { $0.element == "journal" }.map { $0.offset + 1 }
        let out = try night.copyOfLastNight(name)
        let crashed = try await night.run(
            out: out,
            environment: ["FACEEXPORT_TEST_CRASH_AT": "\(journalSteps[journalLine - 1])"]
        )
        #expect(crashed.status == SIGKILL)
        return out
    }

    /// The NDJSON output's temporary file a killed run left in `out`.
    static func temporaryNDJSON(in out: String) throws -> String {
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasPrefix(".faces.ndjson.gz.tmp-") }
        )
        return out + "/" + name
    }

    @Test func aJournalLineSplitInTheMiddleResumesWithEveryFaceExactlyOnce() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "split", journalLine: 10)
        // What a bad sector or a stray write leaves: 40 bytes in the middle of the journal overwritten,
        // one line split in two.
        let path = out + "/.faceexport/sweep.journal"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let lines = bytes.indices.filter { bytes[$0] == 0x0A }
        let middle = lines[4] + 60
        bytes.replaceSubrange(
            middle..<middle + 40,
            with: Array(String(repeating: "X", count: 20).utf8) + [0x0A] + Array(String(repeating: "Y", count: 19).utf8)
        )
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let resumed = try await night.run(out: out, ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("is damaged at byte \(lines[4] + 1)"))
        #expect(resumed.stderr.contains("COMPLETE"))
        #expect(try CrashSweepTests.normalizedOutputs(out) == night.expected)
    }

    @Test func aTemporaryFileCutToHalfIsRefusedInOneLineAndLastNightStays() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "cut", journalLine: 10)
        let temporary = try Self.temporaryNDJSON(in: out)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int)
        #expect(truncate(temporary, off_t(size / 2)) == 0)

        let resumed = try await night.run(out: out, ["--resume"])
        #expect(resumed.status == 3, "\(resumed.stderr)")
        let failed = try #require(resumed.stderr.split(separator: "\n").first { $0.contains("FAILED  ") })
        #expect(failed.contains("holds \(size / 2) bytes, fewer than the"))
        #expect(failed.contains("run without --resume to start over"))
        #expect(try CrashSweepTests.fileDigests(out) == night.previous, "last night's outputs byte for byte")

        let next = try await night.run(out: out)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try CrashSweepTests.normalizedOutputs(out) == night.expected)
    }

    @Test func aTemporaryFileOverwrittenInItsVouchedBytesIsRefused() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "flip", journalLine: 10)
        let temporary = try Self.temporaryNDJSON(in: out)
        let handle = try #require(FileHandle(forUpdatingAtPath: temporary))
        try handle.seek(toOffset: 30)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()

        let resumed = try await night.run(out: out, ["--resume"])
        #expect(resumed.status == 3, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("no longer holds the bytes its journal vouches for"))
        #expect(try CrashSweepTests.fileDigests(out) == night.previous)
    }

    /// The interrupted run's SQLite file lost what it had committed (its write-ahead log gone, as a
    /// careless clean-up or a lost page cache leaves it): the journal vouches for rows it no longer has.
    @Test func aTemporarySQLiteFileThatLostItsCommittedRowsIsRefused() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "lostwal", journalLine: 10)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).filter {
            $0.hasPrefix(".faces.sqlite.tmp-")
        }
        let log = try #require(names.first { $0.hasSuffix("-wal") })
        try FileManager.default.removeItem(atPath: out + "/" + log)

        let resumed = try await night.run(out: out, ["--resume"])
        #expect(resumed.status == 3, "\(resumed.stderr)")
        let failed = try #require(resumed.stderr.split(separator: "\n").first { $0.contains("FAILED  ") })
        #expect(failed.contains(".faces.sqlite.tmp-"), "\(failed)")
        #expect(failed.contains("run without --resume to start over"), "\(failed)")
        #expect(try CrashSweepTests.fileDigests(out) == night.previous)
    }

    /// The journal of an earlier version (no checksums) with a library's lines gone: its pages are
    /// walked again while the single file's later checkpoints already hold them. The check before the
    /// commit catches it on its own.
    @Test func theCommitCheckCatchesWhatALegacyJournalWithALostLibraryWouldDuplicate() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "legacy", journalLine: 8)
        let path = out + "/.faceexport/sweep.journal"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let legacy = text.split(separator: "\n").filter { !$0.contains(#""group_id":"grp-0001""#) }.map {
            $0.replacing(/,"crc":"[0-9a-f]{8}"/, with: "")
        }
        #expect(legacy.count < text.split(separator: "\n").count, "the library's lines were there")
        try (legacy.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

        let resumed = try await night.run(out: out, ["--resume"])
        #expect(resumed.status == 3, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("holds 102 rows but the walk handed it 101 (1 more)"), "\(resumed.stderr)")
        #expect(resumed.stderr.contains("nothing was committed"))
        #expect(try CrashSweepTests.fileDigests(out) == night.previous, "last night's outputs byte for byte")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: out).filter {
            $0.contains(".tmp-") || $0.hasSuffix(".journal")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}

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
