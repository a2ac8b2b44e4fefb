import ArgumentParser
import FaceExport
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

    func run() throws {
        let completion: ShardCompletion
        do {
            completion = try ShardCompletion(manifests: self.manifests)
        } catch {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitStatus.configuration
        }
        for line in completion.lines { print(line) }
        print(completion.verdict)
        if let json = self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(completion).write(to: URL(fileURLWithPath: json))
        }
        if !completion.complete { throw ExitStatus.partial }
    }
}
