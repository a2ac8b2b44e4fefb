import ArgumentParser
import FaceExportBuild

/// The `faceexport` command: export FinAuth FaceSearch libraries to files.
@main
struct FaceExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faceexport",
        abstract: "Export FinAuth FaceSearch face libraries to NDJSON, CSV and SQLite files.",
        version: ExporterVersion.full,
        subcommands: [
            RunCommand.self, ValidateCommand.self, SimulateCommand.self, MergeManifestsCommand.self,
            BenchMovedCommand.self,
        ]
    )
}
