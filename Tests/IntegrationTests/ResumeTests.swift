import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

@testable import ExportPipeline
@testable import ExportSinks

/// Interrupted runs continue from their journal: every face exactly once, byte for byte.
@Suite(.timeLimit(.minutes(10)))
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
        var csvCount = 0
        let partitions = try FileManager.default.contentsOfDirectory(atPath: folder + "/out")
            .first { $0.hasPrefix("dt=") }.map { folder + "/out/" + $0 }
        for group in try FileManager.default.contentsOfDirectory(atPath: try #require(partitions))
        where group.hasPrefix("group=") {
            _ = try runProgram("/bin/gzip", ["-t", partitions! + "/" + group + "/faces.csv.gz"])
            csvCount += try csvRows(partitions! + "/" + group + "/faces.csv.gz").count
        }
        #expect(csvCount == Self.dataset.faceCount)
        let sqlite = try sqliteRows(
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

    /// Parquet files take their rows a row group at a time: one for the night (row groups ending
    /// mid-run) and one per library (ending with it), beside an NDJSON file. Killed at any point, the
    /// resumed run goes back to what the Parquet files vouch for and ends with every face once.
    @Test(arguments: [2, 13])
    func sigkillThenResumeKeepsEveryParquetRowExactlyOnce(afterLibraries: Int) async throws {
        let folder = try makeTemporaryDirectory()
        for (name, latency) in [("slow", 0.1), ("fast", 0.0)] {
            try embeddedPipeline(
                name: "parquet",
                folder: folder,
                groups: 16,
                faces: 3000,
                seed: 5,
                latency: latency,
                outputs: [
                    "{format: ndjson, path: faces.ndjson.gz}",
                    "{format: parquet, path: faces.parquet, row_group_size: 1MiB}",
                    #"{format: parquet, path: "dt={date}/group={group}/part.parquet"}"#,
                ]
            ).write(toFile: folder + "/\(name).yaml", atomically: true, encoding: .utf8)
        }
        let run = try await OperationsTests.startSlowRun(
            folder + "/slow.yaml",
            libraries: afterLibraries,
            signal: SIGKILL
        )
        _ = await OperationsTests.wait(run)
        let journal = try #require(ResumeState.read(path: folder + "/out/.faceexport/parquet.journal", outputs: 3))
        if afterLibraries > 2 {
            // After about 10,000 faces the night's file ended its first row group, and every file per
            // library with it: the resumed run keeps them and the pages they hold.
            #expect(journal.files[1].first?.rows ?? 0 > 0, "the resumed run continues the night's Parquet file")
            #expect(!journal.groups.isEmpty)
        }
        let resumed = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")

        let dataset = DatasetGenerator(groups: 16, faces: 3000, sizing: .mixed, seed: 5).make()
        let tokens = dataset.groups.flatMap { group in group.faces.map { group.groupID + " " + $0.faceToken } }
        let ndjson = try readNDJSON(folder + "/out/faces.ndjson.gz").map {
            String(decoding: $0.groupID, as: UTF8.self) + " " + $0.faceToken
        }
        #expect(ndjson.sorted() == tokens.sorted())
        let script = """
            import sys, glob, pyarrow.parquet as pq
            night = pq.ParquetFile(sys.argv[1] + '/faces.parquet')
            print(night.metadata.num_row_groups)
            for path in [sys.argv[1] + '/faces.parquet'] + sorted(glob.glob(sys.argv[1] + '/dt=*/group=*/part.parquet')):
                t = pq.read_table(path, columns=['group_id', 'face_token'])
                for g, f in zip(t.column(0).to_pylist(), t.column(1).to_pylist()): print(path.endswith('part.parquet'), g, f)
            """
        let lines = String(decoding: try PythonReaders.run(script, [folder + "/out"]), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        #expect(Int(lines.first ?? "") ?? 0 >= 2, "the night's file has row groups that ended mid-run")
        let night = lines.dropFirst().filter { $0.hasPrefix("False ") }.map { String($0.dropFirst(6)) }
        let perLibrary = lines.dropFirst().filter { $0.hasPrefix("True ") }.map { String($0.dropFirst(5)) }
        #expect(night.count == tokens.count, "no face twice in faces.parquet")
        #expect(night.sorted() == tokens.sorted())
        #expect(perLibrary.sorted() == tokens.sorted(), "every face once in the files per library")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder + "/out").filter {
            $0.contains(".tmp-") || $0.hasSuffix(".journal")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
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
