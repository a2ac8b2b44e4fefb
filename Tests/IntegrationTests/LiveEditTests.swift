import Foundation
import TestSupport
import Testing

/// Libraries that users edit while the nightly run walks them: a normal night, not a failure.
@Suite(.timeLimit(.minutes(10)))
struct LiveEditTests {
    static func pipeline(folder: String, onChanged: String?) -> String {
        """
        name: live-edits
        endpoint: embedded
        simulator: {groups: 12, faces: 400, seed: 71, mutation_rate: 0.2, faults: {seed: 72}}
        concurrency: 2
        page_size: 50
        rate_limit: {mode: fixed, requests_per_second: 1000, burst: 10}
        output_dir: \(folder)/out
        metrics_file: \(folder)/metrics.prom
        \(onChanged.map { "on_changed: \($0)" } ?? "")
        outputs:
          - {format: ndjson, path: faces.ndjson.gz}
        """
    }

    @Test func editedLibrariesAreCompleteAndFlaggedAndTheRunSucceeds() async throws {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder, onChanged: nil).write(
            toFile: folder + "/p.yaml",
            atomically: true,
            encoding: .utf8
        )
        let result = try await CommandLineTests.faceexport(["run", folder + "/p.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("edited during the walk"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/out/_SUCCESS"))
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: folder + "/out/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        #expect(manifest["outcome"] as? String == "complete")
        let groups = try #require(manifest["groups"] as? [[String: Any]])
        #expect(groups.allSatisfy { $0["status"] as? String == "complete" })
        let flagged = groups.filter { $0["changed_during_export"] as? Bool == true }.count
        #expect(flagged > 0, "a mutation rate of 0.2 edits some library during its walk")
        let metrics = try String(contentsOfFile: folder + "/metrics.prom", encoding: .utf8)
        #expect(metrics.contains("faceexport_groups_changed_during_export{pipeline=\"live-edits\"} \(flagged)"))
        let rows = try readNDJSON(folder + "/out/faces.ndjson.gz")
        #expect(Set(rows.map(\.faceToken)).count == rows.count, "no face twice")
    }

    @Test func onChangedFailKeepsTheStrictBehaviour() async throws {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder, onChanged: "fail").write(
            toFile: folder + "/p.yaml",
            atomically: true,
            encoding: .utf8
        )
        let result = try await CommandLineTests.faceexport(["run", folder + "/p.yaml"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("changed_during_export"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/_SUCCESS"))
    }
}
