import FaceSearchSimulation
import Foundation
import TestSupport
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
