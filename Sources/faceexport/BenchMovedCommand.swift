import ArgumentParser
import Foundation

/// `faceexport bench`, which the shipped binary no longer holds: says where the benchmark went.
struct BenchMovedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Moved: the benchmark is the faceexport-bench program.",
        shouldDisplay: false
    )

    @Argument(parsing: .captureForPassthrough) var arguments: [String] = []

    func run() throws {
        FileHandle.standardError.write(
            Data(
                ("faceexport: the benchmark is its own program now; run it from the repository with "
                    + "swift run -c release faceexport-bench \(self.arguments.joined(separator: " "))\n").utf8
            )
        )
        throw ExitStatus.configuration
    }
}
