import ArgumentParser
import ExportPipeline
import Foundation

/// `faceexport merge-manifests`: whether every shard of a sharded run completed.
struct MergeManifestsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-manifests",
        abstract:
            "Check the manifests of a sharded run: exit 0 when all N shards completed, 2 when one is missing or not complete.",
        discussion: "Prints one line per shard and a JSON summary with --json."
    )

    @Argument(help: "The shards' manifest.json files.")
    var manifests: [String]

    @Option(help: "Write the combined summary as JSON to this file.")
    var json: String?

    private struct Manifest: Decodable {
        struct Shard: Decodable {
            let index: Int
            let count: Int
        }

        struct Totals: Decodable {
            let faces: Int
        }

        /// Absent in manifests written before the format was versioned (the same fields as 1).
        let manifest_version: Int?
        let run_id: String
        let pipeline: String
        let shard: Shard?
        let outcome: String
        let totals: Totals
    }

    private struct Summary: Encodable {
        let pipeline: String
        let shards: Int
        let complete: Bool
        let faces: Int
        let missing: [Int]
        let notComplete: [Int]
        let duplicated: [Int]
    }

    func run() throws {
        var loaded: [(path: String, manifest: Manifest)] = []
        for path in self.manifests {
            do {
                loaded.append(
                    (path, try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path))))
                )
            } catch {
                throw Self.fail("\(path): not a faceexport manifest (\(error))")
            }
        }
        for (path, manifest) in loaded where (manifest.manifest_version ?? 1) > ManifestFormat.version {
            throw Self.fail(
                "\(path): manifest_version \(manifest.manifest_version!) is newer than this faceexport reads (\(ManifestFormat.version)); use the faceexport that wrote it or a newer one"
            )
        }
        guard let first = loaded.first?.manifest else { throw Self.fail("no manifest given") }
        guard loaded.allSatisfy({ $0.manifest.pipeline == first.pipeline }) else {
            throw Self.fail(
                "the manifests belong to different pipelines: \(Set(loaded.map(\.manifest.pipeline)).sorted())"
            )
        }
        guard let count = first.shard?.count, loaded.allSatisfy({ $0.manifest.shard?.count == count }) else {
            throw Self.fail("every manifest must come from a --shard K/N run with the same N")
        }
        var byIndex: [Int: [Manifest]] = [:]
        for (path, manifest) in loaded {
            byIndex[manifest.shard!.index, default: []].append(manifest)
            print(
                "shard \(manifest.shard!.index)/\(count): \(manifest.outcome), \(manifest.totals.faces) faces, run \(manifest.run_id) (\(path))"
            )
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        let duplicated = byIndex.filter { $0.value.count > 1 }.map(\.key).sorted()
        let notComplete = byIndex.filter { $0.value.contains { $0.outcome != "complete" } }.map(\.key).sorted()
        let complete = missing.isEmpty && duplicated.isEmpty && notComplete.isEmpty
        let summary = Summary(
            pipeline: first.pipeline,
            shards: count,
            complete: complete,
            faces: loaded.reduce(0) { $0 + $1.manifest.totals.faces },
            missing: missing,
            notComplete: notComplete,
            duplicated: duplicated
        )
        print(
            "pipeline '\(first.pipeline)': \(complete ? "all \(count) shards complete" : "INCOMPLETE")"
                + (missing.isEmpty ? "" : "; missing shards \(missing)")
                + (notComplete.isEmpty ? "" : "; not complete \(notComplete)")
                + (duplicated.isEmpty ? "" : "; shards given twice \(duplicated)")
        )
        if let json = self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(summary).write(to: URL(fileURLWithPath: json))
        }
        if !complete { throw ExitStatus.partial }
    }

    private static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("faceexport: \(message)\n".utf8))
        return ExitStatus.configuration
    }
}
