import ExportPipeline
import Foundation

/// Whether every shard of a sharded run completed, from the shards' manifests.
public struct ShardCompletion: Encodable {
    /// The pipeline every manifest belongs to.
    public let pipeline: String
    /// N, the number of shards.
    public let shards: Int
    /// Every shard given once and complete.
    public let complete: Bool
    /// Faces over all the manifests given.
    public let faces: Int
    /// Shards no manifest was given for.
    public let missing: [Int]
    /// Shards whose run was not complete.
    public let notComplete: [Int]
    /// Shards given more than once.
    public let duplicated: [Int]
    /// One line per manifest: shard, outcome, faces, run and path.
    public let lines: [String]

    /// The part of a manifest the check reads.
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

    private enum CodingKeys: CodingKey {
        case pipeline, shards, complete, faces, missing, notComplete, duplicated
    }

    /// Reads and checks the manifests at `paths`; throws ``LaunchError`` when one cannot be read or
    /// they do not belong to one sharded run.
    public init(manifests paths: [String]) throws(LaunchError) {
        var loaded: [(path: String, manifest: Manifest)] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LaunchError("cannot read \(path); check the path and its permissions")
            }
            do {
                loaded.append((path, try JSONDecoder().decode(Manifest.self, from: data)))
            } catch {
                throw LaunchError("\(path): not a faceexport manifest (\(Self.explain(error)))")
            }
        }
        for (path, manifest) in loaded where (manifest.manifest_version ?? 1) > ManifestFormat.version {
            throw LaunchError(
                "\(path): manifest_version \(manifest.manifest_version!) is newer than this faceexport reads "
                    + "(\(ManifestFormat.version)); use the faceexport that wrote it or a newer one"
            )
        }
        guard let first = loaded.first?.manifest else { throw LaunchError("no manifest given") }
        guard loaded.allSatisfy({ $0.manifest.pipeline == first.pipeline }) else {
            throw LaunchError(
                "the manifests belong to different pipelines: \(Set(loaded.map(\.manifest.pipeline)).sorted())"
            )
        }
        guard let count = first.shard?.count, loaded.allSatisfy({ $0.manifest.shard?.count == count }) else {
            throw LaunchError("every manifest must come from a --shard K/N run with the same N")
        }
        var byIndex: [Int: [Manifest]] = [:]
        var lines: [String] = []
        for (path, manifest) in loaded {
            byIndex[manifest.shard!.index, default: []].append(manifest)
            lines.append(
                "shard \(manifest.shard!.index)/\(count): \(manifest.outcome), \(manifest.totals.faces) faces, "
                    + "run \(manifest.run_id) (\(path))"
            )
        }
        self.pipeline = first.pipeline
        self.shards = count
        self.missing = (0..<count).filter { byIndex[$0] == nil }
        self.duplicated = byIndex.filter { $0.value.count > 1 }.map(\.key).sorted()
        self.notComplete = byIndex.filter { $0.value.contains { $0.outcome != "complete" } }.map(\.key).sorted()
        self.complete = self.missing.isEmpty && self.duplicated.isEmpty && self.notComplete.isEmpty
        self.faces = loaded.reduce(0) { $0 + $1.manifest.totals.faces }
        self.lines = lines
    }

    /// What a decoding error says, in words: the field, not the decoder's types.
    private static func explain(_ error: any Error) -> String {
        let path = { (context: DecodingError.Context) in
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            let parent = path(context)
            return "it has no \(parent.isEmpty ? "" : parent + ".")\(key.stringValue)"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "\(path(context)) is not what a manifest holds there"
        case .dataCorrupted?:
            return "it is not JSON"
        default:
            return "it cannot be read"
        }
    }

    /// The verdict in one line.
    public var verdict: String {
        "pipeline '\(self.pipeline)': \(self.complete ? "all \(self.shards) shards complete" : "INCOMPLETE")"
            + (self.missing.isEmpty ? "" : "; missing shards \(self.missing)")
            + (self.notComplete.isEmpty ? "" : "; not complete \(self.notComplete)")
            + (self.duplicated.isEmpty ? "" : "; shards given twice \(self.duplicated)")
    }
}
