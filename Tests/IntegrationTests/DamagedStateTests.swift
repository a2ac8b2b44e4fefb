import Foundation
import Testing

@testable import ExportPipeline
@testable import ExportSinks

/// A killed run whose journal or temporary file was then damaged resumes exactly, or refuses in one
/// line and loses nothing.
@Suite(.timeLimit(.minutes(10)))
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

    /// The journal's first line, which names the run, is overwritten: the temporary files the killed
    /// run left are found by their outputs' paths and removed, and the next run commits every face.
    @Test func aJournalDamagedBeforeItNamesItsRunLeavesNoTemporaryFileBehind() async throws {
        let night = try await CrashSweepTests.prepareNight(outputs: Self.outputs)
        let out = try await Self.killedRun(night, name: "nameless", journalLine: 10)
        let path = out + "/.faceexport/sweep.journal"
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.replaceSubrange(0..<20, with: Array(String(repeating: "X", count: 20).utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        func temporaries() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: out).filter { $0.contains(".tmp-") }
        }
        #expect(try !temporaries().isEmpty, "the killed run left temporary files")

        let next = try await night.run(out: out)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.contains("sweep.journal is damaged at byte 0"), "\(next.stderr)")
        #expect(next.stderr.contains("removing what any interrupted run of 'sweep' left"))
        #expect(try CrashSweepTests.normalizedOutputs(out) == night.expected)
        let left = try temporaries()
        #expect(left.isEmpty, "\(left)")
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
