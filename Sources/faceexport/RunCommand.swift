import ArgumentParser
import ExportPipeline
import Foundation
import Logging
import PipelineFile

/// `faceexport run`: export the libraries a pipeline file names.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: export every library it names to its outputs.",
        discussion: """
            Exit codes: 0 complete, 2 partial (some libraries failed, were incomplete or did not reconcile; \
            outputs committed), 3 failed (the API refused the run or outputs could not be written; previous \
            outputs untouched), 4 configuration error, 1 internal error.
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(help: "The service root, e.g. https://api-sgp.yljz.com; overrides the pipeline's endpoint.")
    var endpoint: String?

    @Option(
        name: .customLong("groups-file"),
        help: "A file of group ids, one per line; overrides the pipeline's groups."
    )
    var groupsFile: String?

    @Option(help: "The folder for every output; overrides the pipeline's output_dir.")
    var out: String?

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, warning or error.",
        transform: { text in
            guard let level = Logger.Level(rawValue: text) else { throw ValidationError("unknown log level '\(text)'") }
            return level
        }
    )
    var logLevel: Logger.Level = .warning

    func run() async throws {
        let logger = LogSetup.bootstrap(level: self.logLevel)
        let definition: PipelineDefinition
        do {
            definition = try PipelineFileLoader.load(path: self.pipeline)
        } catch {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitStatus.configuration
        }
        let launcher = PipelineLauncher(
            definition: definition,
            overrides: .init(endpoint: self.endpoint, groupsFile: self.groupsFile, outputDirectory: self.out),
            logger: logger
        )
        let report: RunReport
        do {
            report = try await launcher.launch()
        } catch {
            FileHandle.standardError.write(Data("faceexport: \(error)\n".utf8))
            throw ExitStatus.configuration
        }
        FileHandle.standardError.write(Data(RunSummary(report: report, pipeline: definition.name).text.utf8))
        switch report.outcome {
        case .complete: throw ExitStatus.complete
        case .partial: throw ExitStatus.partial
        case .failed: throw ExitStatus.failed
        }
    }
}
