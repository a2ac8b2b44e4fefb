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

    func run() throws {
        do {
            let definition = try PipelineFileLoader.load(path: self.pipeline)
            let notes = try PipelineLauncher.check(definition, file: self.pipeline)
            for note in notes { print("note: \(note)") }
            print("\(self.pipeline): ok (pipeline '\(definition.name)', \(definition.outputs.count) output(s))")
        } catch {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitStatus.configuration
        }
    }
}
