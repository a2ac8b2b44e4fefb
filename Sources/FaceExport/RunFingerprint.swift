import ExportPipeline
import ExportSinks
import FaceExportCrypto
import PipelineFile

/// A digest of everything that decides what a run's outputs hold and where: a run may be resumed
/// only under the same.
struct RunFingerprint {
    let definition: PipelineDefinition
    let folder: String
    let shard: Shard?
    /// Each account's name, place and libraries.
    let accounts: [String]
    let hashKey: [UInt8]?

    /// The digest, hex; recorded in the journal and compared by `--resume`.
    var digest: String {
        var parts = [
            "name=\(self.definition.name)", "folder=\(self.folder)", "shard=\(self.shard?.description ?? "all")",
        ]
        parts += self.accounts.map { "account=\($0)" }
        for output in self.definition.outputs {
            parts.append(
                "output=\(output.format.rawValue)|\(output.path.text)|\(output.compression)|\(output.escapeFormulas)|"
                    + "\(output.sqliteMode.rawValue)|\(output.fileMode)|\(output.changesPath?.text ?? "")"
            )
        }
        parts.append("manifest=\(self.definition.manifest.text)")
        parts.append("transform=\(self.definition.transform.digest)")
        // Only when not the default, so that journals of earlier versions still resume.
        if self.definition.onInvalidText != .repair { parts.append("invalid_text=\(self.definition.onInvalidText)") }
        // A continued upload's parts are all of one size (stores such as R2 want it so).
        if self.folder.hasPrefix("s3://") { parts.append("part_size=\(self.definition.storage.partSize)") }
        if let hashKey {
            // A resumed run must hash with the same key; the journal keeps only this one-way check of it.
            parts.append("key=\(Hex.encode(HMAC.sha256(key: hashKey, message: Array("faceexport key check".utf8))))")
        }
        return Hex.encode(HMAC.sha256(key: [UInt8](), message: Array(parts.joined(separator: "\n").utf8)))
    }
}
