import ArgumentParser
import FaceExport
import Foundation
import PipelineFile

/// `faceexport validate`: check a pipeline file without calling the API.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a pipeline file without calling the API; errors name the line and key."
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Flag(
        help: """
            Also call the object storage of an s3:// output_dir once (its open uploads under the prefix): \
            the bucket, the keys and the policy. Never the API.
            """
    )
    var checkStorage = false

    func run() throws {
        do {
            let definition = try PipelineFileLoader.load(path: self.pipeline)
            let notes = try PipelineLauncher.check(definition, file: self.pipeline)
            for note in notes { print("note: \(note)") }
            if self.checkStorage, let checked = try PipelineLauncher.checkStorage(definition, file: self.pipeline) {
                print("storage: \(checked)")
            }
            print("\(self.pipeline): ok (pipeline '\(definition.name)', \(definition.outputs.count) output(s))")
        } catch let error as LaunchError {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitCode(error.status.rawValue)
        } catch {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitStatus.configuration
        }
    }
}
